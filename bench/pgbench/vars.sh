# bench/pgbench/vars.sh, sourced by bench/run and bench/callgrind/db: the pgbench
# variables of bench/pgbench/action.sql that describe the update_crop_keyframe action
# (its target, the patch up to its value, and what it touches), as pgbench arguments.
# shellcheck disable=SC2034 # used by the scripts that source this file
PGBENCH_ACTION_VARS=(
    -D 'tgt={"frame": 210}'
    -D 'fwd1=[{"op": "replace", "path": "/crop_keyframes/7/x", "value": '
    -D 'touches=[{"op": "w", "path": ["crop_keyframes", {"key": "frame", "value": 210}, "x"]}]'
)
