"""The Lua scripts of `bot.store.store` (each touches keys of one hash slot, so they run on Cluster too)."""

# Compare-and-set on a hash's `status`. `_t` remembers the nonce of the last move, so a retry of the same move
# (its first answer lost) is recognised as done rather than reported as "status differs".
TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
if cur ~= ARGV[1] then
  if cur == ARGV[2] and redis.call('HGET', KEYS[1], '_t') == ARGV[4] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], '_t', ARGV[4])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
"""

# Create a hash only if absent (no WATCH/MULTI: Cluster and proxies cannot run those reliably). `_c` holds the
# creator's nonce for the same retry-recognition as above.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], '_c') == ARGV[2] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], '_c', ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""

# Append once: KEYS[2] (same slot: its hash tag is the stream's name) remembers the entry id under the writer's
# nonce for a few minutes, so a retry after a lost answer returns that id instead of appending a duplicate.
APPEND = """
local prev = redis.call('GET', KEYS[2])
if prev then return prev end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('SET', KEYS[2], id, 'EX', 600)
return id
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
