# Ordinary Ruby: threads and a child process.
threads = (1..8).map { |k| Thread.new { (0..100000).sum { |j| j % k } } }
puts "threads sum=#{threads.map(&:value).sum}"
puts "child: #{`echo hi`.strip}"
