--[[
  Record the last cart version a revalidation saw. Nodes that load a cart whose version is ahead
  of it ask for a revalidation, so a change whose node died before enqueueing one is still checked.

  KEYS[1] meta hash ({cartId}:meta)
  ARGV[1] version the revalidation saw

  Returns
    1   recorded
    0   not recorded: the cart is gone, or a later version was already recorded
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local current = tonumber(redis.call('HGET', KEYS[1], 'revalidated') or '0')
if current >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'revalidated', ARGV[1])
return 1
