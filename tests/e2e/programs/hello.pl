my $x = <STDIN>;
print "hello ", 2 * $x, "\n";
