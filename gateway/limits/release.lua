-- Release: the request failed; free its reservation and concurrency slot, refund its tpm estimate.
-- KEYS: 1 reservations hash, 2 reservation expiry zset, 3 reserved total, 4 subject in-flight zset,
--       5 org tpm TAT, 6 subject tpm TAT
-- ARGV: 1 request id
-- API key (last): KEYS the key's reservations hash, reservation expiry zset, reserved total and tpm TAT
--       (K of them); ARGV K as the last entry.
-- Returns 1 when a live reservation was released, 0 otherwise (already settled, released or expired).

local now_ms = server_now_ms()
local live = finish_reservation(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], 0, now_ms)
-- API key (issue 15): free the key's own reservation and refund its tpm estimate.
local key_count = tonumber(ARGV[#ARGV]) or 0
if key_count > 0 then
  local k = #KEYS - key_count
  finish_key_reservation(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], ARGV[1], 0, now_ms)
end
return live and 1 or 0
