-- Rate limits as they stand, consuming nothing (issue 15: `GET /v1/key`).
-- KEYS: TAT keys; ARGV: the limit of each, in the same order.
-- Returns: per key, remaining and ms until fully replenished (as strings).

local now_ms = server_now_ms()
local out = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[i])
  local tat = num(redis.call('GET', KEYS[i])) or now_ms
  out[#out + 1] = int(gcra_remaining(tat, now_ms, limit))
  out[#out + 1] = fmt(math.max(tat - now_ms, 0))
end
return out
