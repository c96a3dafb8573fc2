--[[
  Claim an Idempotency-Key for a request, or return what the key already holds. Each scope (a cart,
  or a caller's cart creations) keeps at most a bounded number of keys: claiming one more evicts the
  oldest, so a caller cannot grow Redis by sending new keys.

  KEYS[1] the key's record ({scope}:idem:<digest>: JSON { fingerprint, state, outcome? })
  KEYS[2] the scope's index ({scope}:idem: sorted set of record keys by claim time)
  ARGV[1] the pending record to store when the key is free
  ARGV[2] the pending record's expiry, in milliseconds (a process that died mid-request)
  ARGV[3] now, in milliseconds
  ARGV[4] how long a record is kept, in milliseconds (the index expires with the newest record)
  ARGV[5] the most records the scope keeps

  Returns
    { 1 }            claimed: run the request
    { 0, record }    the key is taken: record is its JSON
]]
local existing = redis.call('GET', KEYS[1])
if existing then
  return { 0, existing }
end
local now = tonumber(ARGV[3])
local keep = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - keep)
local max = tonumber(ARGV[5])
local over = redis.call('ZCARD', KEYS[2]) - max + 1
if over > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], over)
  -- Record keys carry the scope's hash tag: one slot with KEYS[2] on Redis Cluster.
  for i = 1, #oldest, 2 do
    redis.call('DEL', oldest[i])
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('PEXPIRE', KEYS[2], keep)
return { 1 }
