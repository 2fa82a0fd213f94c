#!/usr/bin/env bash
# Every GPU figure of docs/benchmarks.md, in one go, most important first:
#
#     bash scripts/bench_gpu.sh [SECONDS]
#
# bench_train for the `bo` and `bo_large` recipes in 32-true and bf16-mixed, then compiled (inductor), then a
# short run through Lightning's DDP strategy on every visible GPU (logger=csv, no network). Each command gets
# at most SECONDS (default 240) and a failure does not stop the others; the script ends with the list of
# commands that failed. The tables go to docs/results/bench_train_cuda_*.md, the DDP run to outputs/ddp_check.
set -u
limit="${1:-240}"
failed=()

run() {
    echo "== $*"
    if ! timeout "$limit" "$@"; then
        failed+=("$*")
    fi
}

bench=(python scripts/bench_train.py --device cuda --sample-on-device --steps 20 --repeats 3)
for precision in 32-true bf16-mixed; do
    run "${bench[@]}" --precision "$precision" experiment=bo --results-name "bench_train_cuda_${precision}"
    run "${bench[@]}" --precision "$precision" experiment=bo_large --results-name "bench_train_cuda_bo_large_${precision}"
done
run "${bench[@]}" --precision bf16-mixed experiment=bo_large data.batch_size=256 \
    --results-name bench_train_cuda_bo_large_b256_bf16-mixed
for precision in bf16-mixed 32-true; do
    run "${bench[@]}" --compile --precision "$precision" experiment=bo_large \
        --results-name "bench_train_cuda_bo_large_${precision}_compile"
done

gpus="$(python -c 'import torch; print(torch.cuda.device_count())')"
run pfn train experiment=bo name=ddp_check trainer=ddp trainer.accelerator=gpu "trainer.devices=${gpus}" \
    trainer.max_steps=100 trainer.val_check_interval=50 data.sample_on_device=true logger=csv

if ((${#failed[@]})); then
    printf 'failed: %s\n' "${failed[@]}"
    exit 1
fi
echo "all GPU benchmarks ran"
