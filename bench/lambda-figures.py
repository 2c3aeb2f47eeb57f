#!/usr/bin/env python3
# Figures of the Lambda's release binary (BENCHMARKS.md, "The Lambda"):
# cold start to the first answer, a warm request, a scheduled tick with
# 100 providers (all due), and the function's peak memory (VmHWM).
#
#   cargo lambda build --release --bin sentinel-lambda
#   (cd lambda && cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P 19555) &
#   ~/.cache/bookkeeper-sentinel/venv/bin/python bench/lambda-figures.py
#
# Starts moto (the venv's moto_server) and one local HTTP provider that
# answers every path; the binary runs against the emulator's runtime API,
# three times from a fresh process.
import subprocess, time, json, os, socket, urllib.request, sys
V=os.path.expanduser("~/.cache/bookkeeper-sentinel/venv/bin")
def free():
    s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]; s.close(); return p
moto_port=free()
moto=subprocess.Popen([V+"/moto_server","-H","127.0.0.1","-p",str(moto_port)],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
prov_port=free()
prov=subprocess.Popen([sys.executable,"-c",f"""
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b=b'{{"status":"ok"}}'
        self.send_response(200); self.send_header('content-length',str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self,*a): pass
http.server.ThreadingHTTPServer(('127.0.0.1',{prov_port}),H).serve_forever()
"""])
time.sleep(2)
import boto3
ddb=boto3.client("dynamodb",endpoint_url=f"http://127.0.0.1:{moto_port}",region_name="us-east-1",aws_access_key_id="t",aws_secret_access_key="t")
ddb.create_table(TableName="t",KeySchema=[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],AttributeDefinitions=[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}],BillingMode="PAY_PER_REQUEST")
cfg='[sentinel]\nid = "fig"\nallow_private_targets = true\n'
for p in range(100):
    if p%10==0:
        cfg+=f'\n[[service]]\nid = "s{p//10}"\nkind = "api"\nprobe_interval = "30s"\n[service.probe]\npath = "/"\ntimeout = "2s"\n'
    cfg+=f'\n[[service.provider]]\nid = "p{p:03}"\nendpoint = "http://127.0.0.1:{prov_port}/{p}"\n'
import tempfile
work=tempfile.mkdtemp()
cfg_path=os.path.join(work,"sentinel.toml")
open(cfg_path,"w").write(cfg)
env=dict(os.environ, AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:19555/.rt", AWS_LAMBDA_FUNCTION_NAME="_",
  SENTINEL_TABLE="t", SENTINEL_CONFIG_FILE=cfg_path, AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}", AWS_ACCESS_KEY_ID="t", AWS_SECRET_ACCESS_KEY="t", AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", SENTINEL_LOG="warn")
B=os.path.join(os.environ.get("CARGO_TARGET_DIR",os.path.expanduser("~/.cache/bookkeeper-sentinel/target")),"lambda/sentinel-lambda/bootstrap")
res={}
for rnd in range(3):
    t0=time.time()
    fn=subprocess.Popen([B],env=env)
    r=urllib.request.urlopen("http://127.0.0.1:19555/lambda-url/_/healthz",timeout=60).read()
    res.setdefault("cold_first_answer_ms",[]).append(round((time.time()-t0)*1000,1))
    t1=time.time(); urllib.request.urlopen("http://127.0.0.1:19555/lambda-url/_/healthz",timeout=60).read()
    res.setdefault("warm_healthz_ms",[]).append(round((time.time()-t1)*1000,1))
    ev=json.dumps({"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-11-29T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}).encode()
    t2=time.time()
    out=urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:19555/2015-03-31/functions/_/invocations",data=ev,headers={"content-type":"application/json"}),timeout=120).read()
    res.setdefault("tick_ms",[]).append(round((time.time()-t2)*1000,1))
    res.setdefault("tick",[]).append(out.decode()[:300])
    hwm=[l for l in open(f"/proc/{fn.pid}/status") if l.startswith("VmHWM")][0].split()[1]
    res.setdefault("peak_rss_kb",[]).append(int(hwm))
    fn.kill(); fn.wait()
print(json.dumps(res,indent=1))
prov.kill(); moto.kill()
