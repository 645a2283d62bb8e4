-- One ledger record, at most once per request id: a spooled record replayed after Redis came back (or replayed
-- twice, or whose first XADD ran but whose reply was lost with the connection) is never appended again.
-- KEYS: 1 the ledger stream, 2 this request id's marker (same hash slot as the stream)
-- ARGV: 1 record JSON, 2 max entries, 3 '~' (approximate trim) or '=', 4 marker ttl ms,
--       5 retention ms ('0' = keep entries until max entries pushes them out)
-- Returns 1 when appended, 0 when the request id was already in the ledger.
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[4]) then return 0 end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], ARGV[2], '*', 'r', ARGV[1])
local retention_ms = tonumber(ARGV[5])
if retention_ms > 0 then
  local now = redis.call('TIME')
  local oldest_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - retention_ms
  redis.call('XTRIM', KEYS[1], 'MINID', ARGV[3], tostring(oldest_ms))
end
return 1
