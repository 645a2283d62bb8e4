-- Shared prelude, prepended to breaker_check.lua and breaker_record.lua when they are loaded.
-- KEYS[1] is the circuit's hash `gw:breaker:{model}`: `open_until`, `probes`, `probe_until` (seconds, Redis
-- server time, so replicas with skewed clocks agree) while open or half-open; `n:<bucket>` / `f:<bucket>`
-- (outcomes / failures per slice of the window) while closed. No hash = closed with nothing counted.

local BUCKETS = 10

local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Lua 5.1 prints numbers with %.14g; timestamps with microseconds need more digits.
local function fmt(n) return string.format('%.17g', n) end

-- An open circuit outlives its cool-down long enough to be probed; an abandoned one still expires.
local function open_ttl_ms(cooldown, window)
  return math.ceil((2 * cooldown + window) * 1000)
end
