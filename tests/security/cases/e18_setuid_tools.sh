# E18: the host's setuid tools are in /usr/bin but give nothing: /usr is
# nosuid and the program has no_new_privs. Each tool tries something only
# root could do and leaves a marker file if it worked.
mkdir -p m
t() { command -v "$1" >/dev/null 2>&1; }
t su && su root -c 'touch /box/pwned-su' </dev/null >/dev/null 2>&1
t sudo && sudo -n touch /box/pwned-sudo </dev/null >/dev/null 2>&1
t mount && mount -t tmpfs none /box/m >/dev/null 2>&1 && touch /box/pwned-mount
t passwd && passwd -d root </dev/null >/dev/null 2>&1 && touch /box/pwned-passwd
t chsh && chsh -s /bin/sh root </dev/null >/dev/null 2>&1 && touch /box/pwned-chsh
t gpasswd && gpasswd -a box root </dev/null >/dev/null 2>&1 && touch /box/pwned-gpasswd
t newgrp && newgrp root </dev/null >/dev/null 2>&1 && [ "$(id -g)" = 0 ] && touch /box/pwned-newgrp
t pkexec && pkexec touch /box/pwned-pkexec </dev/null >/dev/null 2>&1
t ping && ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && touch /box/pwned-ping
echo "uid: $(id -u) euid via /proc: $(awk '/^Uid:/ {print $3}' /proc/self/status)"
echo "markers: $(ls /box | grep -c '^pwned')"
grep -q ' /box/m ' /proc/self/mountinfo && echo "mounted: yes" || echo "mounted: no"
