-- Shared prelude, prepended to admit/settle/release/summary.lua when they are loaded.
-- Numbers handed to redis.call are formatted explicitly: Lua 5.1 would print them with %.14g,
-- which turns large nano-dollar amounts into "1.2e+14" and loses digits.

local PERIOD_MS = 60000.0
local TOLERANCE_MS = 0.001

local function fmt(n) return string.format('%.17g', n) end
local function int(n) return string.format('%d', n) end
local function num(v)
  if v == nil or v == false or v == '' then return nil end
  return tonumber(v)
end

-- Redis server time is the single authority, so replicas with skewed clocks agree.
local function server_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- Howard Hinnant's civil calendar algorithms (proleptic Gregorian, UTC).
local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- Returns day key, month key, seconds to next UTC midnight, seconds to next month start (as periods.py).
local function periods_at(now_ms)
  local now_s = now_ms / 1000
  local days = math.floor(now_s / 86400)
  local y, m, d = civil_from_days(days)
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  local day_reset = (days + 1) * 86400 - now_s
  local month_reset = days_from_civil(ny, nm, 1) * 86400 - now_s
  return string.format('%04d-%02d-%02d', y, m, d), string.format('%04d-%02d', y, m), day_reset, month_reset
end

-- GCRA, as gcra.py. `period` (ms) defaults to a minute and `burst` to the limit.
local function gcra_remaining(tat, now_ms, limit, period, burst)
  period = period or PERIOD_MS
  burst = burst or limit
  local interval = period / limit
  if tat < now_ms then tat = now_ms end
  local spare = burst * interval - (tat - now_ms) + TOLERANCE_MS
  local r = math.floor(spare / interval)
  if r < 0 then r = 0 end
  if r > burst then r = burst end
  return r
end

-- Returns allowed, tat to store (or current), retry_after_ms, remaining, reset_ms.
local function gcra_check(tat, now_ms, limit, cost, period, burst)
  period = period or PERIOD_MS
  burst = burst or limit
  local interval = period / limit
  local base = now_ms
  if tat ~= nil and tat >= now_ms then base = tat end
  local new_tat = base + cost * interval
  local wait = new_tat - burst * interval - now_ms
  if wait > TOLERANCE_MS then
    return false, base, wait, gcra_remaining(base, now_ms, limit, period, burst), base - now_ms
  end
  return true, new_tat, 0, gcra_remaining(new_tat, now_ms, limit, period, burst), new_tat - now_ms
end

local function store_tat(key, tat, now_ms)
  if tat == nil or tat <= now_ms then
    redis.call('DEL', key)
  else
    redis.call('SET', key, fmt(tat), 'PX', int(math.ceil(tat - now_ms)))
  end
end

-- Correct a tpm consumption by delta tokens (negative refunds), as gcra.shift.
local function shift_tat(key, now_ms, delta, interval)
  if interval <= 0 or delta == 0 then return end
  local tat = num(redis.call('GET', key)) or now_ms
  if delta > 0 and tat < now_ms then tat = now_ms end
  store_tat(key, tat + delta * interval, now_ms)
end

-- Reservation record: "reserve_nano|estimated_tokens|org_tpm_interval_ms|subject_tpm_interval_ms".
local function parse_record(rec)
  local reserve, tokens, org_t, sub_t = string.match(rec, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  return tonumber(reserve), tonumber(tokens), tonumber(org_t), tonumber(sub_t)
end

-- Drop reservations whose TTL passed (their replica crashed or forgot them) and give their money back.
local function purge_expired(res, res_exp, reserved, now_ms)
  local ids = redis.call('ZRANGEBYSCORE', res_exp, '-inf', fmt(now_ms))
  if #ids == 0 then return end
  local total = 0
  local batch = 500  -- unpack() is bounded by the Lua C stack
  for i = 1, #ids, batch do
    local chunk = {unpack(ids, i, math.min(i + batch - 1, #ids))}
    local recs = redis.call('HMGET', res, unpack(chunk))
    for j = 1, #chunk do
      if recs[j] then total = total + parse_record(recs[j]) end
    end
    redis.call('HDEL', res, unpack(chunk))
    redis.call('ZREM', res_exp, unpack(chunk))
  end
  if total ~= 0 then redis.call('DECRBY', reserved, int(total)) end
end

-- End one reservation: free money and slots, correct tpm from the estimate to `actual_tokens`.
-- Returns true when the reservation was still live.
local function finish_reservation(res, res_exp, reserved, inflight, org_tpm, sub_tpm, id, actual_tokens, now_ms)
  redis.call('ZREM', inflight, id)
  local rec = redis.call('HGET', res, id)
  if not rec then return false end
  local reserve, tokens, org_t, sub_t = parse_record(rec)
  redis.call('HDEL', res, id)
  redis.call('ZREM', res_exp, id)
  if reserve ~= 0 then redis.call('DECRBY', reserved, int(reserve)) end
  shift_tat(org_tpm, now_ms, actual_tokens - tokens, org_t)
  shift_tat(sub_tpm, now_ms, actual_tokens - tokens, sub_t)
  return true
end

-- API keys (issue 15). A key's reservation record has the org's format, with the key's tpm interval third
-- and 0 fourth, so purge_expired frees expired key reservations too. A key's calls append its keys after
-- every other KEYS entry and its figures after every other ARGV entry (each script says which), so other
-- blocks may add their own arguments without renumbering these.
local function finish_key_reservation(res, res_exp, reserved, tpm, id, actual_tokens, now_ms)
  local rec = redis.call('HGET', res, id)
  if not rec then return end
  local reserve, tokens, key_t = parse_record(rec)
  redis.call('HDEL', res, id)
  redis.call('ZREM', res_exp, id)
  if reserve ~= 0 then redis.call('DECRBY', reserved, int(reserve)) end
  shift_tat(tpm, now_ms, actual_tokens - tokens, key_t)
end
