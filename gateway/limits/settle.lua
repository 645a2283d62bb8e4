-- Settlement: record actual spend once per request id, end the reservation, correct tpm, report alerts.
-- KEYS: 1 org's settled-markers zset, 2 reservations hash, 3 reservation expiry zset,
--       4 reserved total, 5 subject in-flight zset, 6 org tpm TAT, 7 subject tpm TAT, 8 spend by day,
--       9 spend by month, 10 spend by "month|model", 11 alerts sent, 12 org override hash
-- ARGV: 1 request id, 2 model, 3 cost nano, 4 actual tokens, 5 default daily budget nano,
--       6 default monthly budget nano ('' = none), 7 idempotency window ms
-- Returns: status ('settled' | 'duplicate'), then five strings per newly crossed threshold:
--          period, period key, threshold, spent nano, budget nano.

local THRESHOLDS = {50, 80, 100}
local id, model = ARGV[1], ARGV[2]
local cost, tokens = tonumber(ARGV[3]), tonumber(ARGV[4])

-- Idempotency without a key per call: one zset per org, request id -> when its marker may go. A settlement can
-- only come twice through the spool, which replays as soon as Redis answers again, so a marker is kept for a
-- bounded window (default: the reservation TTL) and the set's size is settlements per window, not per day.
local now_ms = server_now_ms()
local window_ms = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now_ms))
if redis.call('ZSCORE', KEYS[1], id) then return {'duplicate'} end
redis.call('ZADD', KEYS[1], fmt(now_ms + window_ms), id)
redis.call('PEXPIRE', KEYS[1], int(math.ceil(window_ms)))  -- an org idle for a window leaves no set behind

finish_reservation(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], id, tokens, now_ms)

local day_key, month_key = periods_at(now_ms)
local day_spent = tonumber(redis.call('HINCRBY', KEYS[8], day_key, int(cost)))
local month_spent = tonumber(redis.call('HINCRBY', KEYS[9], month_key, int(cost)))
redis.call('HINCRBY', KEYS[10], month_key .. '|' .. model, int(cost))

local ov = redis.call('HMGET', KEYS[12], 'daily_nano', 'monthly_nano')
local out = {'settled'}
local function alerts(period, key, spent, budget)
  if budget == nil then return end
  for _, t in ipairs(THRESHOLDS) do
    -- HSETNX makes "crossed" a once-per-period fact shared by every replica.
    if spent * 100 >= t * budget and redis.call('HSETNX', KEYS[11], period .. ':' .. key .. ':' .. t, '1') == 1 then
      out[#out + 1] = period
      out[#out + 1] = key
      out[#out + 1] = tostring(t)
      out[#out + 1] = int(spent)
      out[#out + 1] = int(budget)
    end
  end
end
alerts('daily', day_key, day_spent, num(ov[1]) or num(ARGV[5]))
alerts('monthly', month_key, month_spent, num(ov[2]) or num(ARGV[6]))
return out
