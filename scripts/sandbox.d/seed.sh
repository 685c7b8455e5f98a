# Seeding the fictitious agency; sourced by scripts/sandbox.
cmd_seed() { die "seed is not written yet"; }
