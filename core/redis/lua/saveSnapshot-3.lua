--[[
  Replace a cart's snapshot with one that folds the log up to `version`, then trim those entries.

  KEYS[1] meta hash, KEYS[2] log stream, KEYS[3] snapshot (see appendUpdate-4.lua)
  ARGV[1] snapshot bytes (the full state at `version`)
  ARGV[2] version the snapshot includes
  ARGV[3] the id of the log's entry at `version` the snapshot was built from

  Returns
    1   saved and trimmed
    0   not saved: a snapshot at this version or later exists, the cart is gone, or the entry at
        `version` is another one (the log lost its tail and was written again meanwhile)
]]
local snapVersion = tonumber(redis.call('HGET', KEYS[1], 'snapVersion') or '0')
local target = tonumber(ARGV[2])
if target <= snapVersion or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local at = redis.call('XRANGE', KEYS[2], '0-' .. target, '0-' .. target)
if #at ~= 1 or (at[1][2][6] or '') ~= ARGV[3] then
  return 0
end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('SET', KEYS[3], ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
redis.call('HSET', KEYS[1], 'snapVersion', target, 'snapId', ARGV[3])
redis.call('XTRIM', KEYS[2], 'MINID', '0-' .. (target + 1))
-- What stays in the log (appended while the snapshot was built; few entries) is what counts now.
local logBytes = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[2], '-', '+')) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'u' then logBytes = logBytes + #fields[i + 1] end
  end
end
redis.call('HSET', KEYS[1], 'logBytes', logBytes)
return 1
