--[[
  Create, replace or patch catalog products, all or nothing.

  KEYS[1] catalog hash (field: SKU, value: product JSON)
  ARGV[1] 'put' (a missing product is created) or 'patch' (every product must exist)
  ARGV[2..] one change per product, JSON:
            { sku, set: { name?, category?, imageUrl?, stock? }, prices?: { CUR: amount | null }, replacePrices }
            `set` fields overwrite; `prices` replaces the whole price map when `replacePrices` is
            true, else merges into it per currency (null removes that currency). A later change
            of the same SKU applies on top of an earlier one.

  Returns
    { 1, prev1, next1, prev2, next2, ... }  written; prevN is the JSON before ('' when created)
    { 0, sku }                              nothing written: a patch names a product that does not exist
]]
local mode = ARGV[1]
local pending = {}
local out = { 1 }
for i = 2, #ARGV do
  local change = cjson.decode(ARGV[i])
  local sku = change.sku
  local prev = pending[sku] or redis.call('HGET', KEYS[1], sku)
  if not prev and mode == 'patch' then return { 0, sku } end
  local product
  if prev then product = cjson.decode(prev) else product = { sku = sku, prices = {}, imageUrl = cjson.null } end
  for k, v in pairs(change.set) do product[k] = v end
  if type(change.prices) == 'table' then
    if change.replacePrices == true or type(product.prices) ~= 'table' then product.prices = {} end
    for currency, amount in pairs(change.prices) do
      if amount == cjson.null then product.prices[currency] = nil else product.prices[currency] = amount end
    end
  end
  local json = cjson.encode(product)
  pending[sku] = json
  out[#out + 1] = prev or ''
  out[#out + 1] = json
end
for sku, json in pairs(pending) do redis.call('HSET', KEYS[1], sku, json) end
return out
