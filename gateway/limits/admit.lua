-- Admission: every rate limit, concurrency cap and budget reservation in one atomic step.
-- Nothing is written unless everything passes.
-- KEYS: 1 org rpm TAT, 2 org tpm TAT, 3 subject rpm TAT, 4 subject tpm TAT, 5 reservations hash,
--       6 reservation expiry zset, 7 reserved total, 8 subject in-flight zset, 9 spend by day,
--       10 spend by month, 11 org override hash
-- ARGV: 1 request id, 2 org rpm, 3 org tpm, 4 org max concurrent, 5 subject rpm, 6 subject tpm,
--       7 subject max concurrent, 8 daily budget nano, 9 monthly budget nano ('' = none for 2..9),
--       10 tokens, 11 reserve nano, 12 reservation ttl ms
-- API key (last): KEYS key rpm TAT, key tpm TAT, key reservations hash, key reservation expiry zset,
--       key reserved total, key spend hash (the last K KEYS); ARGV key rpm, key tpm, key daily nano,
--       key monthly nano, then K (6 with a key, 0 without) as the very last ARGV.
-- Bursts and per-second limits (issue 16): KEYS 12 org rps TAT, 13 subject rps TAT; ARGV 13 org rpm burst,
--       14 org rps, 15 subject rpm burst, 16 subject rps ('' = none; a burst defaults to the rpm itself).
-- Returns: allowed, reason, retry_after_ms, then requests limit/remaining/reset_ms and the tokens
--          trio ('' when not limited); all as strings because Redis truncates Lua numbers to integers.

local CONCURRENCY_RETRY_MS = 1000
local id = ARGV[1]
local now_ms = server_now_ms()

purge_expired(KEYS[5], KEYS[6], KEYS[7], now_ms)
redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', fmt(now_ms))

local ov = redis.call('HMGET', KEYS[11], 'rpm', 'tpm', 'max_concurrent', 'daily_nano', 'monthly_nano')
local org_rpm = num(ov[1]) or num(ARGV[2])
local org_tpm = num(ov[2]) or num(ARGV[3])
local org_conc = num(ov[3]) or num(ARGV[4])
local daily = num(ov[4]) or num(ARGV[8])
local monthly = num(ov[5]) or num(ARGV[9])
local sub_rpm, sub_tpm, sub_conc = num(ARGV[5]), num(ARGV[6]), num(ARGV[7])
local tokens = tonumber(ARGV[10])
local reserve = tonumber(ARGV[11])
local ttl_ms = tonumber(ARGV[12])

local reason, retry = 'ok', 0
local function fail(r, wait)
  if reason == 'ok' or wait > retry then reason, retry = r, wait end
end

-- Each limit: {key, limit, cost, reason, header kind[, period ms, burst]}; `checked` keeps what the writes and
-- headers need. Without a period it is per minute; without a burst the burst is the limit.
local limits = {
  {KEYS[1], org_rpm, 1, 'org_rpm', 'req'},
  {KEYS[2], org_tpm, tokens, 'org_tpm', 'tok'},
  {KEYS[3], sub_rpm, 1, 'subject_rpm', 'req'},
  {KEYS[4], sub_tpm, tokens, 'subject_tpm', 'tok'},
}

-- Bursts and per-second limits (issue 16): a burst narrows the rpm entries above; rps limits join the list with
-- a one-second period (their burst is the rps itself) and kind 'rps', which no header reports.
local org_burst, sub_burst = num(ARGV[13]), num(ARGV[15])
limits[1][6], limits[1][7] = PERIOD_MS, org_burst
limits[3][6], limits[3][7] = PERIOD_MS, sub_burst
limits[#limits + 1] = {KEYS[12], num(ARGV[14]), 1, 'org_rps', 'rps', 1000.0, nil}
limits[#limits + 1] = {KEYS[13], num(ARGV[16]), 1, 'subject_rps', 'rps', 1000.0, nil}

-- API key (issue 15): the key's own rate limits join the list above; its budget is checked below.
local key_count = tonumber(ARGV[#ARGV]) or 0
local api_key = nil
if key_count > 0 then
  local k = #KEYS - key_count
  api_key = {rpm_key = KEYS[k + 1], tpm_key = KEYS[k + 2], res = KEYS[k + 3], res_exp = KEYS[k + 4],
             reserved = KEYS[k + 5], spend = KEYS[k + 6], rpm = num(ARGV[#ARGV - 4]), tpm = num(ARGV[#ARGV - 3]),
             daily = num(ARGV[#ARGV - 2]), monthly = num(ARGV[#ARGV - 1])}
  purge_expired(api_key.res, api_key.res_exp, api_key.reserved, now_ms)
  limits[#limits + 1] = {api_key.rpm_key, api_key.rpm, 1, 'key_rpm', 'req'}
  limits[#limits + 1] = {api_key.tpm_key, api_key.tpm, tokens, 'key_tpm', 'tok'}
end

local checked = {}
for _, l in ipairs(limits) do
  if l[2] ~= nil then
    local current = num(redis.call('GET', l[1]))
    local ok, tat, wait = gcra_check(current, now_ms, l[2], l[3], l[6], l[7])
    if not ok then fail(l[4], wait) end
    checked[#checked + 1] = {key = l[1], limit = l[2], kind = l[5], current = current or now_ms, tat = tat,
                             period = l[6], burst = l[7]}
  end
end

if org_conc ~= nil and redis.call('ZCARD', KEYS[6]) >= org_conc then fail('org_concurrency', CONCURRENCY_RETRY_MS) end
if sub_conc ~= nil and redis.call('ZCARD', KEYS[8]) >= sub_conc then
  fail('subject_concurrency', CONCURRENCY_RETRY_MS)
end

-- Budgets beat rate limits as the reason: the client must not retry before the period resets.
local day_key, month_key, day_reset, month_reset = periods_at(now_ms)
local held = (num(redis.call('GET', KEYS[7])) or 0) + reserve
local budget_reason, budget_wait = nil, 0
if daily ~= nil and (num(redis.call('HGET', KEYS[9], day_key)) or 0) + held > daily then
  budget_reason, budget_wait = 'daily_budget', day_reset * 1000
end
if monthly ~= nil and (num(redis.call('HGET', KEYS[10], month_key)) or 0) + held > monthly then
  budget_reason, budget_wait = 'monthly_budget', month_reset * 1000
end
-- API key budget (issue 15): the key's own spend and reservations against the key's budgets.
if api_key ~= nil and budget_reason == nil then
  local key_held = (num(redis.call('GET', api_key.reserved)) or 0) + reserve
  local day_spent = num(redis.call('HGET', api_key.spend, 'd:' .. day_key)) or 0
  if api_key.daily ~= nil and day_spent + key_held > api_key.daily then
    budget_reason, budget_wait = 'key_daily_budget', day_reset * 1000
  end
  local month_spent = num(redis.call('HGET', api_key.spend, 'm:' .. month_key)) or 0
  if api_key.monthly ~= nil and month_spent + key_held > api_key.monthly then
    budget_reason, budget_wait = 'key_monthly_budget', month_reset * 1000
  end
end
if budget_reason ~= nil then
  if budget_wait > retry then retry = budget_wait end
  reason = budget_reason
end

local allowed = reason == 'ok'
-- A request id already in flight was admitted before (a retried call): admit it again, consume nothing.
if redis.call('HEXISTS', KEYS[5], id) == 1 then
  allowed, reason, retry = true, 'ok', 0
elseif allowed then
  for _, c in ipairs(checked) do
    store_tat(c.key, c.tat, now_ms)
    c.current = c.tat
  end
  local org_t = org_tpm and (PERIOD_MS / org_tpm) or 0
  local sub_t = sub_tpm and (PERIOD_MS / sub_tpm) or 0
  local expires = now_ms + ttl_ms
  redis.call('HSET', KEYS[5], id, int(reserve) .. '|' .. int(tokens) .. '|' .. fmt(org_t) .. '|' .. fmt(sub_t))
  redis.call('ZADD', KEYS[6], fmt(expires), id)
  redis.call('ZADD', KEYS[8], fmt(expires), id)
  if reserve ~= 0 then redis.call('INCRBY', KEYS[7], int(reserve)) end
  -- API key (issue 15): the key's own reservation, freed by settle/release or when it expires.
  if api_key ~= nil then
    local key_t = api_key.tpm and (PERIOD_MS / api_key.tpm) or 0
    redis.call('HSET', api_key.res, id, int(reserve) .. '|' .. int(tokens) .. '|' .. fmt(key_t) .. '|0')
    redis.call('ZADD', api_key.res_exp, fmt(expires), id)
    if reserve ~= 0 then redis.call('INCRBY', api_key.reserved, int(reserve)) end
  end
end

-- Headers describe the state after this call (consumed only if admitted), tighter of org and subject.
local function trio(kind)
  local best = nil
  for _, c in ipairs(checked) do
    if c.kind == kind then
      local rem = gcra_remaining(c.current, now_ms, c.limit, c.period, c.burst)
      if best == nil or rem < best[2] then best = {c.limit, rem, math.max(c.current - now_ms, 0)} end
    end
  end
  if best == nil then return '', '', '' end
  return int(best[1]), int(best[2]), fmt(best[3])
end
local rl, rr, rs = trio('req')
local tl, tr, ts = trio('tok')
return {allowed and '1' or '0', reason, fmt(retry), rl, rr, rs, tl, tr, ts}
