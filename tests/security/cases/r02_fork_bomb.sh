# R2: the shell fork bomb. The top shell starts one background pipeline,
# then spins (a builtin loop, no fork) so that the step can only end by the
# CPU or wall limit; the bomb's failed forks show on stderr.
bomb() { bomb | bomb & }
bomb
while :; do :; done
