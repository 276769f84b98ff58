<?php
$x = (int)trim(fgets(STDIN));
echo "hello " . (2 * $x) . "\n";
