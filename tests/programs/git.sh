#!/bin/sh
# git.sh — a git session for goheap's LD_PRELOAD tests (tests/preload.rs):
# init, add, commit, branch, merge, log, diff, gc in the current (empty)
# directory. Author, committer, dates and config are fixed so that the output
# (including commit ids) is deterministic.
set -eu
export HOME="$PWD" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Goheap GIT_AUTHOR_EMAIL=goheap@example.invalid
export GIT_COMMITTER_NAME=Goheap GIT_COMMITTER_EMAIL=goheap@example.invalid
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
export LC_ALL=C TZ=UTC
src=$1

git init -q -b main repo
cd repo
cp "$src"/*.c "$src"/*.h "$src"/*.cpp .
i=0
while [ $i -lt 200 ]; do echo "line $i of a generated file" >> generated.txt; i=$((i + 1)); done
git add .
git commit -q -m "first commit"
git checkout -q -b feature
sed 's/threads/THREADS/g' threads.c > threads.tmp && mv threads.tmp threads.c
echo "feature line" >> generated.txt
git commit -q -am "feature: rename"
git checkout -q main
echo "main line" > other.txt
git add other.txt
git commit -q -m "main: other"
git merge -q --no-edit feature
git log --graph --stat --format='%H %an %s' 
git diff --stat HEAD~2 HEAD
git show --format=%s HEAD~1 -- threads.c | head -n 40
git gc -q
git count-objects -v | grep -v size
git fsck --no-progress
git rev-parse HEAD
