--[[
  Point a customer at her active cart, if it still is the one the caller saw (compare-and-set):
  two devices signing in at once agree on one cart.

  KEYS[1] the customer's active-cart pointer (string: a cart id)
  ARGV[1] the cart id the caller saw ('' for none)
  ARGV[2] the new cart id
  ARGV[3] the pointer's expiry, in milliseconds (a cart's longest lifetime)

  Returns the cart id the pointer holds afterwards: ARGV[2] when swapped, else the current one.
]]
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then
  return current
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ARGV[2]
