--[[
  Claim a guest cart for a merge into `target`, or say why it cannot be claimed. The claim is a
  lease: while it lives only its holder may append to the cart (appendUpdate-4.lua), so the lines
  the holder reads are the cart's final lines; the holder's last append sets the status to
  `merged` and drops the lease. A holder that died leaves a lease that runs out, and the next
  exchange claims the cart again (a merge is idempotent, protocol/SPEC.md §2 "Merge on login").

  KEYS[1] meta hash ({cartId}:meta: version, status, mergedInto, owner, lock, lockUntil)
  ARGV[1] target cart id (recorded as mergedInto)
  ARGV[2] the signing-in customer's id (a cart owned by anyone else is not hers to merge)
  ARGV[3] this claim's id (random)
  ARGV[4] now, in milliseconds
  ARGV[5] the lease, in milliseconds

  Returns
    { 1 }              claimed
    { 0 }              no such cart
    { 2, mergedInto }  already merged (into mergedInto)
    { 3, mergedInto }  another exchange holds a live claim (merging into mergedInto)
    { 4 }              owned by another customer
    { 5, status }      in another status that cannot become merged
]]
if tonumber(redis.call('HGET', KEYS[1], 'version') or '0') == 0 then
  return { 0 }
end
local status = redis.call('HGET', KEYS[1], 'status') or 'open'
if status == 'merged' then
  return { 2, redis.call('HGET', KEYS[1], 'mergedInto') or '' }
end
if status ~= 'open' then
  return { 5, status }
end
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[2] then
  return { 4 }
end
local now = tonumber(ARGV[4])
local lock = redis.call('HGET', KEYS[1], 'lock')
if lock and tonumber(redis.call('HGET', KEYS[1], 'lockUntil') or '0') > now then
  return { 3, redis.call('HGET', KEYS[1], 'mergedInto') or '' }
end
redis.call('HSET', KEYS[1], 'lock', ARGV[3], 'lockUntil', now + tonumber(ARGV[5]), 'mergedInto', ARGV[1])
return { 1 }
