-- Ordinary Lua: computation, a file, a child process.
local s = 0
for i = 0, 100000 do s = s + i % 7 end
local f = io.open("/tmp/lua.txt", "w"); f:write(string.rep("l", 1000)); f:close()
local h = io.popen("echo hi"); local out = h:read("*l"); h:close()
print("lua sum=" .. s .. " child=" .. out)
