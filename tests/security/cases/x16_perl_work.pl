# Ordinary Perl: fork, pipe, wait.
use strict;
use warnings;
pipe(my $r, my $w) or die;
my $pid = fork();
if ($pid == 0) { close $r; print $w "from child\n"; exit 0; }
close $w;
my $line = <$r>;
waitpid($pid, 0);
print "perl: $line";
print "status: $?\n";
