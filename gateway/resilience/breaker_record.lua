-- Count outcomes and move the circuit. Returns the state afterwards: closed, open or ignored.
-- ARGV: successes, failures, window_s, min_requests, failure_rate, cooldown_s[, rate_limited]
-- `rate_limited` (issue 16): how many of the failures were upstream 429s. They are counted per slice too
-- (`r:<bucket>`), and a circuit that opens when most of the window's failures were 429s is marked
-- `cause = rate_limit`, so every replica answers it as a rate limit (429 + Retry-After), not as an outage.
-- (a replica batches the successes it saw while the circuit was closed; failures are sent at once)
local key = KEYS[1]
local successes = tonumber(ARGV[1])
local failures_now = tonumber(ARGV[2])
local ok = failures_now == 0
local window = tonumber(ARGV[3])
local min_requests = tonumber(ARGV[4])
local failure_rate = tonumber(ARGV[5])
local cooldown = tonumber(ARGV[6])
local rate_limited_now = tonumber(ARGV[7]) or 0
local now = server_now()

local function open(rate_limited_share)
  redis.call('DEL', key)
  redis.call('HSET', key, 'open_until', fmt(now + cooldown))
  if rate_limited_share > 0.5 then redis.call('HSET', key, 'cause', 'rate_limit') end
  redis.call('PEXPIRE', key, open_ttl_ms(cooldown, window))
  return 'open'
end

local open_until = tonumber(redis.call('HGET', key, 'open_until'))
if open_until then
  if now < open_until then
    -- A request that started before the circuit opened: its outcome says nothing new.
    return 'ignored'
  end
  if ok then
    redis.call('DEL', key)
    return 'closed'
  end
  return open(rate_limited_now / failures_now)  -- a failed probe: its own kind decides
end

local bucket = math.floor(now / (window / BUCKETS))
local suffix = string.format('%d', bucket)
redis.call('HINCRBY', key, 'n:' .. suffix, successes + failures_now)
if not ok then
  redis.call('HINCRBY', key, 'f:' .. suffix, failures_now)
  if rate_limited_now > 0 then redis.call('HINCRBY', key, 'r:' .. suffix, rate_limited_now) end
end

local outcomes, failures, rate_limited = 0, 0, 0
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local name = fields[i]
  local number = tonumber(string.sub(name, 3))
  if number and number <= bucket - BUCKETS then
    redis.call('HDEL', key, name)
  elseif string.sub(name, 1, 2) == 'n:' then
    outcomes = outcomes + tonumber(fields[i + 1])
  elseif string.sub(name, 1, 2) == 'f:' then
    failures = failures + tonumber(fields[i + 1])
  elseif string.sub(name, 1, 2) == 'r:' then
    rate_limited = rate_limited + tonumber(fields[i + 1])
  end
end

if outcomes >= min_requests and failures >= failure_rate * outcomes then
  return open(failures > 0 and rate_limited / failures or 0)
end
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return 'closed'
