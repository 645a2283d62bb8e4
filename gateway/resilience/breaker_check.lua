-- May a request go to this model now? false = yes, circuit closed; 'probe' = yes, as a half-open probe (a slot was
-- taken); else the seconds to wait.
-- ARGV: cooldown_s, half_open_probes, window_s
local key = KEYS[1]
local cooldown = tonumber(ARGV[1])
local max_probes = tonumber(ARGV[2])
local window = tonumber(ARGV[3])

local state = redis.call('HMGET', key, 'open_until', 'probes', 'probe_until')
local open_until = tonumber(state[1])
if not open_until then
  return false
end
local now = server_now()
if now < open_until then
  return fmt(open_until - now)
end

local probes = tonumber(state[2]) or 0
local probe_until = tonumber(state[3]) or 0
if probes < max_probes then
  if probes == 0 then
    probe_until = now + cooldown
  end
  redis.call('HSET', key, 'probes', probes + 1, 'probe_until', fmt(probe_until))
elseif now >= probe_until then
  -- This round's probes never reported back (their replica died); start a new round instead of sticking.
  redis.call('HSET', key, 'probes', 1, 'probe_until', fmt(now + cooldown))
else
  return fmt(probe_until - now)
end
redis.call('PEXPIRE', key, open_ttl_ms(cooldown, window))
return 'probe'
