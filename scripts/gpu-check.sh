#!/usr/bin/env bash
# Verify the GPU path on a machine with one CUDA GPU and hub access (not run in CI; no GPU there):
# install with CUDA torch and vLLM, run a Qwen3-0.6B job with vLLM rollouts (bf16), serve its
# fine-tuned model through vLLM (plain, streamed, JSON schema), and print the engines'
# throughput and the adapter and full-weight sync times.
#   bash scripts/gpu-check.sh [CUDA_INDEX_URL]
set -euo pipefail
cd "$(dirname "$0")/.."
INDEX_URL="${1:-https://download.pytorch.org/whl/cu128}"
MODEL="${GPU_CHECK_MODEL:-Qwen/Qwen3-0.6B}"
DATA_DIR="$(mktemp -d)/openrft-gpu-check"
PORT="${GPU_CHECK_PORT:-8765}"

make install TORCH_SPEC="torch --index-url $INDEX_URL" EXTRAS=vllm
.venv/bin/python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print(torch.cuda.get_device_name(0))"

.venv/bin/openrft serve --port "$PORT" --data-dir "$DATA_DIR" --inference-engine vllm \
  >"$DATA_DIR.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done

OPENAI_BASE_URL="http://127.0.0.1:$PORT/v1" OPENAI_API_KEY=none MODEL="$MODEL" \
  .venv/bin/python - <<'PY'
import json, os, time
import openai

client = openai.OpenAI(timeout=1800)
rows = [
    {"messages": [{"role": "user", "content": f"What is {a} + {b}? Answer with the number."}],
     "answer": str(a + b)}
    for a in range(1, 9) for b in range(1, 5)
]
data = "\n".join(json.dumps(r) for r in rows).encode()
file = client.files.create(file=("sums.jsonl", data), purpose="fine-tune")
grader = {"type": "string_check", "name": "exact", "operation": "eq",
          "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
job = client.fine_tuning.jobs.create(
    model=os.environ["MODEL"], training_file=file.id, seed=0,
    method={"type": "reinforcement", "reinforcement": {"grader": grader, "hyperparameters": {
        "rollout_engine": "vllm", "dtype": "bfloat16", "batch_size": 8, "group_size": 8,
        "max_completion_tokens": 64, "max_steps": 4, "eval_interval": 2}}},
)
while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
    time.sleep(5)
print("job", job.status, job.error)
events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
for e in events:
    if e.type == "metrics":
        print("step", e.data["step"], "rollout tokens/s", round(e.data["rollout_tokens_per_s"], 1),
              "logp gap", round(e.data["sampling/logp_gap_mean"], 5))
    elif "vLLM" in e.message:
        print(e.message)
reply = client.chat.completions.create(
    model=job.fine_tuned_model, messages=rows[0]["messages"], temperature=0, max_tokens=16)
print("served on vLLM:", reply.choices[0].message.content)
stream = client.chat.completions.create(
    model=job.fine_tuned_model, messages=rows[0]["messages"], temperature=0, max_tokens=16,
    stream=True)
streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
print("streamed on vLLM, same text:", streamed == reply.choices[0].message.content)
schema = {"type": "object", "properties": {"sum": {"type": "integer"}}, "required": ["sum"],
          "additionalProperties": False}
structured = client.chat.completions.create(
    model=job.fine_tuned_model, messages=rows[0]["messages"], temperature=0, max_tokens=32,
    response_format={"type": "json_schema", "json_schema": {"name": "sum", "schema": schema}})
print("response_format on vLLM:", json.loads(structured.choices[0].message.content))
PY
echo "bench:"
.venv/bin/python -m bench vllm_engine generation
