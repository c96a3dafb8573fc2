--[[
  Read what a node needs to bring its copy of a cart to the log's current version.

  KEYS[1] meta hash, KEYS[2] log stream, KEYS[3] snapshot (see appendUpdate-4.lua)
  ARGV[1] the version the caller's copy is at (0: it has nothing)

  Returns { version, snapshotOrFalse, snapVersion, revalidated, idAtFrom, snapId, seq1, update1, origin1, id1, seq2, ... }
    version      the log's current version (0 when the cart does not exist)
    snapshot     the compacted state, only when the caller is behind the snapshot; else false
    snapVersion  the version the snapshot includes
    revalidated  the last version a revalidation saw (0: never revalidated)
    idAtFrom     the id of the log's entry at the caller's version ('' when it has none, or when
                 that entry was folded into the snapshot and is not the snapshot's last)
    snapId       the id of the entry the snapshot ends with ('' when none)
    seqN, updateN, originN, idN  the updates after max(caller's version, snapshot version),
                 oldest first, each with its version, origin tag and entry id
]]
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local snapVersion = tonumber(redis.call('HGET', KEYS[1], 'snapVersion') or '0')
local snapId = redis.call('HGET', KEYS[1], 'snapId') or ''
local from = tonumber(ARGV[1])
local revalidated = tonumber(redis.call('HGET', KEYS[1], 'revalidated') or '0')
local idAtFrom = ''
if from > 0 and from <= version then
  local at = redis.call('XRANGE', KEYS[2], '0-' .. from, '0-' .. from)
  if #at == 1 then
    idAtFrom = at[1][2][6] or ''
  elseif from == snapVersion then
    idAtFrom = snapId
  end
end
local result = { version, false, snapVersion, revalidated, idAtFrom, snapId }
if from < snapVersion then
  result[2] = redis.call('GET', KEYS[3]) or false
  from = snapVersion
end
if from < version then
  local entries = redis.call('XRANGE', KEYS[2], '0-' .. (from + 1), '+')
  for _, entry in ipairs(entries) do
    result[#result + 1] = tonumber(string.sub(entry[1], 3))
    result[#result + 1] = entry[2][2]
    result[#result + 1] = entry[2][4]
    result[#result + 1] = entry[2][6] or ''
  end
end
return result
