-- An API key's spend read at one server instant, after purging its expired reservations (issue 15).
-- KEYS: 1 key reservations hash, 2 key reservation expiry zset, 3 key reserved total, 4 key spend hash
-- Returns: now ms, reserved nano, the spend hash as a flat field/value list.

local now_ms = server_now_ms()
purge_expired(KEYS[1], KEYS[2], KEYS[3], now_ms)
return {fmt(now_ms), redis.call('GET', KEYS[3]) or '0', redis.call('HGETALL', KEYS[4])}
