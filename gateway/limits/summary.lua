-- Spend summary read at one server instant, after purging expired reservations.
-- KEYS: 1 reservations hash, 2 reservation expiry zset, 3 reserved total, 4 spend by day,
--       5 spend by month, 6 spend by "month|model"
-- Returns: now ms, reserved nano, live reservation count, then the three hashes as flat field/value lists.

local now_ms = server_now_ms()
purge_expired(KEYS[1], KEYS[2], KEYS[3], now_ms)
return {
  fmt(now_ms),
  redis.call('GET', KEYS[3]) or '0',
  tostring(redis.call('ZCARD', KEYS[2])),
  redis.call('HGETALL', KEYS[4]),
  redis.call('HGETALL', KEYS[5]),
  redis.call('HGETALL', KEYS[6]),
}
