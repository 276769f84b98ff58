<?php
// Ordinary PHP: computation and files.
$s = 0;
for ($i = 0; $i <= 100000; $i++) { $s += $i % 7; }
file_put_contents("/tmp/php.txt", str_repeat("p", 1000));
echo "php sum=$s size=" . filesize("/tmp/php.txt") . "\n";
