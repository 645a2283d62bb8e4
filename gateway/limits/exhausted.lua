-- The 100 % budget alert of a refused call (issue 16). Alerts otherwise come from settlement, so a budget that
-- refuses the next call at 99.1 % spent would never report 100 %. Called after admission refused a call for
-- its budget: when today's (this month's) spend plus that call's reservation would cross the budget, or the
-- spend has reached it, the period's 100 % alert is marked with the same HSETNX marker settle.lua uses, so it
-- fires exactly once per period across replicas and settlements, whichever path gets there first.
-- KEYS: 1 spend by day, 2 spend by month, 3 alerts sent, 4 org override hash
-- ARGV: 1 default daily budget nano, 2 default monthly budget nano ('' = none), 3 the refused reservation nano
-- Returns: five strings per alert newly due: period, period key, '100', spent nano, budget nano.

local now_ms = server_now_ms()
local day_key, month_key = periods_at(now_ms)
local reserve = tonumber(ARGV[3])
local ov = redis.call('HMGET', KEYS[4], 'daily_nano', 'monthly_nano')
local out = {}

local function exhausted(period, key, spent, budget)
  if budget == nil or spent + reserve <= budget and spent < budget then return end
  if redis.call('HSETNX', KEYS[3], period .. ':' .. key .. ':100', '1') == 1 then
    out[#out + 1] = period
    out[#out + 1] = key
    out[#out + 1] = '100'
    out[#out + 1] = int(spent)
    out[#out + 1] = int(budget)
  end
end
exhausted('daily', day_key, num(redis.call('HGET', KEYS[1], day_key)) or 0, num(ov[1]) or num(ARGV[1]))
exhausted('monthly', month_key, num(redis.call('HGET', KEYS[2], month_key)) or 0, num(ov[2]) or num(ARGV[2]))
return out
