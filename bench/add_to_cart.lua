-- wrk script: HTMX add-to-cart, one shopper per wrk thread (run with -tN -cN: wrk's Lua state
-- is per thread, so one connection per thread makes the state one shopper's).
--
-- Each shopper GETs a product page (BENCH_PAGE) and keeps its session cookie (if the shop
-- sets one: a visitor without a session gets the session-less token) and the CSRF
-- token of <meta name="csrf-token">, then POSTs /fr/panier/ajouter (HX-Request, X-CSRFToken,
-- variant_id=BENCH_VARIANT, quantity=1) again and again with its cookies: lang, session and
-- cart. The cart cookies come from bench/cart.py (one a line in BENCH_CART_COOKIES): wrk's
-- Lua API keeps only the last Set-Cookie of a response and the shop sets the session cookie
-- after the cart one, so a cart cookie set by the shop cannot be read back here.
-- A shopper whose POST is refused with 400 (stale token) starts again with a GET.
-- done() prints one line: "add_to_cart: gets=.. adds=.. failed=.. statuses=..".

local page = os.getenv("BENCH_PAGE")
local variant = os.getenv("BENCH_VARIANT")
local cookie_file = os.getenv("BENCH_CART_COOKIES")
local add_path = os.getenv("BENCH_ADD_PATH") or "/fr/panier/ajouter"

-- main state --------------------------------------------------------------------------------

local cookies = {}
local threads = {}

function setup(thread)
  if #cookies == 0 then
    for line in io.lines(cookie_file) do
      if line ~= "" then table.insert(cookies, line) end
    end
  end
  table.insert(threads, thread)
  local n = #threads
  if n > #cookies then
    error("more wrk threads (" .. n .. ") than cart cookies (" .. #cookies .. ")")
  end
  thread:set("cart", cookies[n])
end

-- thread state (one shopper) ----------------------------------------------------------------

session = nil
token = nil
last = nil
gets, adds, failed = 0, 0, 0
statuses = ""
local body = "variant_id=" .. variant .. "&quantity=1"

function request()
  if token == nil then
    last = "get"
    return wrk.format("GET", page, { ["Cookie"] = "lang=fr" })
  end
  last = "add"
  return wrk.format("POST", add_path, {
    ["Cookie"] = "lang=fr; " .. (session and ("comptoir_session=" .. session .. "; ") or "") .. "cart=" .. cart,
    ["HX-Request"] = "true",
    ["X-CSRFToken"] = token,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end

function response(status, headers, text)
  local set = headers["Set-Cookie"]
  if set then
    local value = set:match("^comptoir_session=([^;]*)")
    if value then session = value end
  end
  if last == "get" then
    gets = gets + 1
    token = text:match('<meta name="csrf%-token" content="([^"]+)"')
    if status ~= 200 then token = nil end
    if token == nil then
      failed = failed + 1
      statuses = statuses .. " GET:" .. status
    end
  elseif status == 200 then
    adds = adds + 1
  else
    failed = failed + 1
    if #statuses < 200 then statuses = statuses .. " " .. status end
    if status == 400 then token = nil end
  end
end

function done(summary, latency, requests)
  local g, a, f, s = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    g = g + thread:get("gets")
    a = a + thread:get("adds")
    f = f + thread:get("failed")
    s = s .. thread:get("statuses")
  end
  io.write(string.format("add_to_cart: gets=%d adds=%d failed=%d statuses=%s\n",
    g, a, f, s == "" and "-" or s))
end
