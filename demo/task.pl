#!/usr/bin/perl
# demo/task.pl: the conference's automated tasks, run by ws-worker. Reads the task's
# effective params (JSON) on standard input, prints the result object on standard output.
use strict;
use warnings;
use JSON::PP;

my $in = do { local $/; <STDIN> };
my $p = decode_json($in eq '' ? '{}' : $in);
my $action = $ENV{WS_ACTION} // '';
my %result;
if ($action eq 'conferencer.tasks.mailing') {
    %result = (mailed_to => $p->{to});
} elsif ($action eq 'conferencer.tasks.search') {
    %result = (location => 'Euskalduna, ' . ($p->{city} // 'somewhere'));
} elsif ($action eq 'conferencer.tasks.newspapers') {
    %result = (newspapers => ['Berria', 'El Correo']);
} elsif ($action eq 'conferencer.tasks.poster') {
    print STDERR "progress: 50\n";
    %result = (posters => 200);
} elsif ($action eq 'conferencer.tasks.calendar') {
    %result = (days_left => (defined $p->{days_left} ? $p->{days_left} : 2) - 1);
} else {
    print STDERR "unknown action $action\n";
    exit 1;
}
print encode_json(\%result), "\n";
