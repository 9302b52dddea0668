#!/usr/bin/perl
# workload.pl — a Perl workload for goheap's LD_PRELOAD tests
# (tests/preload.rs): hashes, arrays, regexes, sorting, string building,
# closures and references. Deterministic output (hash keys are sorted).
use strict;
use warnings;

my $x = 12345;
sub rnd { $x = ($x * 1103515245 + 12345) % 2147483648; return $x; }

my %count;
my @words;
for my $i (1 .. 200000) {
    my $w = "w" . (rnd() % 10000);
    $count{$w}++;
    push @words, $w if $i % 7 == 0;
}
my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 4];
print "top: ", join(",", map { "$_=$count{$_}" } @top), "\n";

my $text = join(" ", @words);
my @hits = ($text =~ /\bw(1\d\d)\b/g);
print "hits: ", scalar(@hits), " length: ", length($text), "\n";

my %tree;
for my $i (1 .. 50000) {
    my $k = rnd() % 1000;
    push @{ $tree{$k}{list} }, $i;
    $tree{$k}{sum} += $i;
}
my $total = 0;
$total += $tree{$_}{sum} for sort { $a <=> $b } keys %tree;
print "tree: ", scalar(keys %tree), " total: $total\n";

my @closures = map { my $n = $_; sub { return $n * $_[0] } } 1 .. 1000;
my $acc = 0;
$acc += $_->(3) for @closures;
print "closures: $acc\n";

my $s = "";
$s .= sprintf("%05d:%s;", $_, "x" x ($_ % 40)) for 1 .. 100000;
(my $t = $s) =~ s/x+/y/g;
print "strings: ", length($s), " ", length($t), "\n";

my @sorted = sort { $a <=> $b } map { rnd() % 1000000 } 1 .. 200000;
print "median: $sorted[100000]\n";
