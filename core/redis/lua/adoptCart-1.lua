--[[
  Record the owner of a cart (a customer's cart created at sign-in, or a guest cart she adopts as
  her active cart). An owner, once recorded, never changes; the field lives and expires with the
  cart's meta hash.

  KEYS[1] meta hash ({cartId}:meta)
  ARGV[1] the customer's id

  Returns
    { 1 }          recorded (or already hers)
    { 0 }          no such cart
    { 2 }          owned by another customer
    { 3, status }  not open (a merged cart cannot become anyone's active cart)
]]
if tonumber(redis.call('HGET', KEYS[1], 'version') or '0') == 0 then
  return { 0 }
end
local status = redis.call('HGET', KEYS[1], 'status') or 'open'
if status ~= 'open' then
  return { 3, status }
end
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then
  return { 2 }
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
return { 1 }
