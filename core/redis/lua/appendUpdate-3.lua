--[[
  Append one Yjs update to a cart's log, if the caller has seen the log up to its last entry.

  KEYS[1] meta hash   ({cartId}:meta: version, snapVersion, created)
  KEYS[2] log stream  ({cartId}:log: entries with id 0-<version>, fields u = update, o = origin)
  KEYS[3] snapshot    ({cartId}:snap)
  ARGV[1] expected version (the caller's copy is at this version)
  ARGV[2] update bytes
  ARGV[3] origin tag (client, yws, rest, worker)
  ARGV[4] expiry of all three keys, in milliseconds
  ARGV[5] now, in milliseconds (the cart's creation time when this is its first entry)

  Returns
    { 1, version, snapVersion, logBytes }   appended; version is the new entry's sequence number,
                                  logBytes the bytes of updates in the log since the snapshot
    { 0, version }                not appended: the log is at `version`, catch up and retry
]]
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then
  return { 0, version }
end
version = version + 1
redis.call('XADD', KEYS[2], '0-' .. version, 'u', ARGV[2], 'o', ARGV[3])
redis.call('HSET', KEYS[1], 'version', version)
redis.call('HSETNX', KEYS[1], 'created', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
local snapVersion = tonumber(redis.call('HGET', KEYS[1], 'snapVersion') or '0')
-- Bytes since the snapshot, so compaction can be asked for by size as well as by count.
local logBytes = redis.call('HINCRBY', KEYS[1], 'logBytes', #ARGV[2])
return { 1, version, snapVersion, logBytes }
