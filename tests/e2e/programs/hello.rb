puts "hello #{2 * gets.to_i}"
