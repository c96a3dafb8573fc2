--[[
  Append one Yjs update to a cart's log, if the caller has seen the log up to its last entry
  (the same version, and the same entry at that version: after a loss of the log's tail another
  writer may have brought it back to the same count with different entries).

  KEYS[1] meta hash   ({cartId}:meta: version, snapVersion, snapId, created, revalidated)
  KEYS[2] log stream  ({cartId}:log: entries with id 0-<version>, fields u = update, o = origin, i = entry id)
  KEYS[3] snapshot    ({cartId}:snap)
  KEYS[4] an Idempotency-Key record of this cart, written with the entry (ignored when ARGV[8] is '')
  ARGV[1] expected version (the caller's copy is at this version)
  ARGV[2] update bytes
  ARGV[3] origin tag (client, yws, rest, claims, restore, worker, reseed)
  ARGV[4] expiry of the cart's keys, in milliseconds
  ARGV[5] now, in milliseconds (the cart's creation time when this is its first entry)
  ARGV[6] this entry's id (random, unique per append)
  ARGV[7] the id of the entry at the expected version, as the caller knows it ('': not checked)
  ARGV[8] the Idempotency-Key record to store (the request's outcome), or ''
  ARGV[9] that record's expiry, in milliseconds
  ARGV[10] the claim id the caller holds on the cart ('' for none: see claimMerge-1.lua)
  ARGV[11] the status the cart takes with this entry ('' for no change; only with a held claim,
           which it then releases)

  Returns
    { 1, version, snapVersion, logBytes }   appended; version is the new entry's sequence
                                  number, logBytes the bytes of updates in the log since the snapshot
    { 0, version }                not appended: the log is at `version`, catch up and retry
    { 0, version, 1 }             not appended: the log is at the caller's version but its entry
                                  there is another one (the history diverged): re-seed
    { 0, version, 2, status }     not appended: the cart takes no changes (its status is not
                                  open, or another writer holds a live claim on it)
]]
local status = redis.call('HGET', KEYS[1], 'status') or 'open'
local lock = redis.call('HGET', KEYS[1], 'lock')
local holder = lock and lock == ARGV[10]
if not holder then
  if status ~= 'open' then
    return { 0, tonumber(redis.call('HGET', KEYS[1], 'version') or '0'), 2, status }
  end
  if lock and tonumber(redis.call('HGET', KEYS[1], 'lockUntil') or '0') > tonumber(ARGV[5]) then
    return { 0, tonumber(redis.call('HGET', KEYS[1], 'version') or '0'), 2, 'locked' }
  end
end
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local expected = tonumber(ARGV[1])
if version ~= expected then
  return { 0, version }
end
if ARGV[7] ~= '' and expected > 0 then
  local at = redis.call('XRANGE', KEYS[2], '0-' .. expected, '0-' .. expected)
  local id
  if #at == 1 then
    id = at[1][2][6]
  elseif tonumber(redis.call('HGET', KEYS[1], 'snapVersion') or '0') == expected then
    id = redis.call('HGET', KEYS[1], 'snapId')
  end
  -- Entries written before entries had ids carry none: nothing to compare.
  if id and id ~= ARGV[7] then
    return { 0, version, 1 }
  end
end
version = version + 1
redis.call('XADD', KEYS[2], '0-' .. version, 'u', ARGV[2], 'o', ARGV[3], 'i', ARGV[6])
redis.call('HSET', KEYS[1], 'version', version)
redis.call('HSETNX', KEYS[1], 'created', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
if holder and ARGV[11] ~= '' then
  redis.call('HSET', KEYS[1], 'status', ARGV[11])
  redis.call('HDEL', KEYS[1], 'lock', 'lockUntil')
end
if ARGV[8] ~= '' then
  redis.call('SET', KEYS[4], ARGV[8], 'PX', ARGV[9])
end
local snapVersion = tonumber(redis.call('HGET', KEYS[1], 'snapVersion') or '0')
-- Bytes since the snapshot, so compaction can be asked for by size as well as by count.
local logBytes = redis.call('HINCRBY', KEYS[1], 'logBytes', #ARGV[2])
return { 1, version, snapVersion, logBytes }
