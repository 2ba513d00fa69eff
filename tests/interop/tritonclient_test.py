#!/usr/bin/env python3
"""Drives a running trkserve with NVIDIA's tritonclient (HTTP and gRPC) through every
endpoint trkserve implements. Run by tests/interop/run.sh, which starts the server over
config/examples/models plus a slow identity model ("slow": 0.2 s per request, queue 2).
Exit status 0 when every check passed; each failure is printed with its name."""
import argparse
import sys
import threading
import traceback
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

FAILED = []


def check(name, cond, detail=""):
    if not cond:
        FAILED.append(name)
        print(f"FAIL {name} {detail}")
    else:
        print(f"ok   {name}")


def raises(fn):
    """The InferenceServerException fn raises, or None."""
    try:
        fn()
    except InferenceServerException as e:
        return e
    return None


def http_input(name, arr, binary=True):
    dtype = {np.float32: "FP32", np.int64: "INT64", np.object_: "BYTES",
             np.int32: "INT32", np.bool_: "BOOL", np.uint8: "UINT8"}[arr.dtype.type]
    inp = httpclient.InferInput(name, list(arr.shape), dtype)
    inp.set_data_from_numpy(arr, binary_data=binary)
    return inp


def grpc_input(name, arr):
    dtype = {np.float32: "FP32", np.int64: "INT64", np.object_: "BYTES",
             np.int32: "INT32", np.bool_: "BOOL", np.uint8: "UINT8"}[arr.dtype.type]
    inp = grpcclient.InferInput(name, list(arr.shape), dtype)
    inp.set_data_from_numpy(arr)
    return inp


def test_health(h, g):
    check("http live", h.is_server_live())
    check("http ready", h.is_server_ready())
    check("grpc live", g.is_server_live())
    check("grpc ready", g.is_server_ready())
    for m in ("identity", "sum", "gemm"):
        check(f"http model ready {m}", h.is_model_ready(m))
        check(f"grpc model ready {m}", g.is_model_ready(m))
    check("http unknown model not ready", not h.is_model_ready("nosuchmodel"))
    check("grpc unknown model not ready", not g.is_model_ready("nosuchmodel"))


def test_metadata(h, g):
    md = h.get_server_metadata()
    check("http server metadata name", md.get("name") == "trkserve", md)
    check("http server metadata extensions", "binary_tensor_data" in md.get("extensions", []), md)
    gmd = g.get_server_metadata(as_json=True)
    check("grpc server metadata name", gmd.get("name") == "trkserve", gmd)

    mm = h.get_model_metadata("gemm")
    check("http gemm metadata input", mm["inputs"][0]["name"] == "INPUT0"
          and mm["inputs"][0]["datatype"] == "FP32"
          and mm["inputs"][0]["shape"] == [-1, 1024], mm)
    check("http gemm metadata versions", mm.get("versions") == ["1"], mm)
    gm = g.get_model_metadata("gemm", as_json=True)
    check("grpc gemm metadata", gm["inputs"][0]["name"] == "INPUT0"
          and [int(x) for x in gm["inputs"][0]["shape"]] == [-1, 1024], gm)

    cfg = h.get_model_config("gemm")
    check("http gemm config", cfg.get("max_batch_size") == 256
          and cfg["input"][0]["data_type"] == "TYPE_FP32", cfg)
    check("http config has dynamic_batching", "dynamic_batching" in cfg, cfg.keys())
    gcfg = g.get_model_config("gemm", as_json=True)["config"]
    check("grpc gemm config", int(gcfg.get("max_batch_size", 0)) == 256
          and gcfg["input"][0]["data_type"] == "TYPE_FP32", gcfg)
    check("http unknown model metadata",
          raises(lambda: h.get_model_metadata("nosuchmodel")) is not None)
    check("grpc unknown model metadata",
          raises(lambda: g.get_model_metadata("nosuchmodel")) is not None)


def test_identity(h, g):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1000).astype(np.float32)
    for binary in (True, False):
        r = h.infer("identity", [http_input("INPUT0", x, binary)],
                    outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary)],
                    request_id="r1")
        check(f"http identity fp32 binary={binary}", np.array_equal(r.as_numpy("OUTPUT0"), x))
        check(f"http identity id echoed binary={binary}", r.get_response()["id"] == "r1")
    r = h.infer("identity", [http_input("INPUT0", x)], request_compression_algorithm="gzip",
                response_compression_algorithm="gzip")
    check("http identity gzip both ways", np.array_equal(r.as_numpy("OUTPUT0"), x))
    r = h.infer("identity", [http_input("INPUT0", x)], request_compression_algorithm="deflate",
                response_compression_algorithm="deflate")
    check("http identity deflate both ways", np.array_equal(r.as_numpy("OUTPUT0"), x))
    r = g.infer("identity", [grpc_input("INPUT0", x)], request_id="g1")
    check("grpc identity fp32", np.array_equal(r.as_numpy("OUTPUT0"), x))
    check("grpc identity id echoed", r.get_response().id == "g1")
    r = g.infer("identity", [grpc_input("INPUT0", x)], compression_algorithm="gzip")
    check("grpc identity gzip", np.array_equal(r.as_numpy("OUTPUT0"), x))

    i64 = np.arange(-5, 7, dtype=np.int64).reshape(3, 4)
    r = h.infer("identity", [http_input("INPUT0", i64)])
    check("http identity int64 [3,4]", np.array_equal(r.as_numpy("OUTPUT0"), i64))
    r = h.infer("identity", [http_input("INPUT0", i64, binary=False)],
                outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)])
    check("http identity int64 json", np.array_equal(r.as_numpy("OUTPUT0"), i64))
    r = g.infer("identity", [grpc_input("INPUT0", i64)])
    check("grpc identity int64", np.array_equal(r.as_numpy("OUTPUT0"), i64))

    s = np.array([b"abc", b"", b"trkserve"], dtype=np.object_)
    r = h.infer("identity", [http_input("INPUT0", s)])
    check("http identity bytes", list(r.as_numpy("OUTPUT0")) == list(s))
    r = h.infer("identity", [http_input("INPUT0", s, binary=False)],
                outputs=[httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)])
    out = [v if isinstance(v, bytes) else v.encode() for v in r.as_numpy("OUTPUT0")]
    check("http identity bytes json", out == list(s), out)
    r = g.infer("identity", [grpc_input("INPUT0", s)])
    check("grpc identity bytes", list(r.as_numpy("OUTPUT0")) == list(s))

    big = rng.standard_normal(3_400_000 // 4).astype(np.float32)  # the Exa.TrkX event size
    big8 = rng.standard_normal(8 * 1024 * 1024 // 4).astype(np.float32)  # 8 MiB > gRPC's 4 MiB
    r = g.infer("identity", [grpc_input("INPUT0", big8)])
    check("grpc identity 8 MiB (above gRPC's 4 MiB default)",
          np.array_equal(r.as_numpy("OUTPUT0"), big8))
    r = h.infer("identity", [http_input("INPUT0", big)])
    check("http identity 3.4 MB", np.array_equal(r.as_numpy("OUTPUT0"), big))


def test_sum_gemm(h, g):
    x = np.arange(1, 101, dtype=np.float32)
    r = h.infer("sum", [http_input("INPUT0", x)])
    check("http sum", abs(float(r.as_numpy("OUTPUT0")[0]) - 5050.0) < 1e-3, r.as_numpy("OUTPUT0"))
    r = g.infer("sum", [grpc_input("INPUT0", x)])
    check("grpc sum", abs(float(r.as_numpy("OUTPUT0")[0]) - 5050.0) < 1e-3)

    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 1024)).astype(np.float32)
    r4 = h.infer("gemm", [http_input("INPUT0", a)]).as_numpy("OUTPUT0")
    check("http gemm shape", r4.shape == (4, 1024), r4.shape)
    r1 = g.infer("gemm", [grpc_input("INPUT0", a[2:3])]).as_numpy("OUTPUT0")
    check("gemm row 2 alone == row 2 in a batch of 4 (grpc vs http)",
          np.allclose(r1[0], r4[2], rtol=1e-4, atol=1e-5))
    check("gemm output finite and not all zero", np.isfinite(r4).all() and np.abs(r4).sum() > 0)


def test_async_stream(h, g):
    x = np.arange(10, dtype=np.float32)
    hres = [h.async_infer("identity", [http_input("INPUT0", x + i)], request_id=str(i))
            for i in range(16)]
    ok = all(np.array_equal(hr.get_result().as_numpy("OUTPUT0"), x + i)
             for i, hr in enumerate(hres))
    check("http async_infer x16", ok)

    done = threading.Event()
    results = {}

    def cb(result, error):
        if error is not None:
            results["error"] = str(error)
        else:
            results[result.get_response().id] = result.as_numpy("OUTPUT0")
        if len(results) >= 8:
            done.set()
    for i in range(8):
        g.async_infer("identity", [grpc_input("INPUT0", x * i)], cb, request_id=f"a{i}")
    done.wait(30)
    check("grpc async_infer x8", all(np.array_equal(results.get(f"a{i}"), x * i)
                                     for i in range(8)), results.get("error"))

    sres = {}
    sdone = threading.Event()

    def scb(result, error):
        if error is not None:
            sres["error"] = str(error)
        else:
            sres[result.get_response().id] = result.as_numpy("OUTPUT0")
        if len(sres) >= 5:
            sdone.set()
    g.start_stream(callback=scb)
    for i in range(5):
        g.async_stream_infer("identity", [grpc_input("INPUT0", x - i)], request_id=f"s{i}")
    sdone.wait(30)
    g.stop_stream()
    check("grpc stream infer x5", all(np.array_equal(sres.get(f"s{i}"), x - i)
                                      for i in range(5)), sres.get("error"))


def test_errors(h, g):
    x = np.arange(4, dtype=np.float32)
    e = raises(lambda: h.infer("nosuchmodel", [http_input("INPUT0", x)]))
    check("http infer unknown model", e is not None and "nosuchmodel" in str(e), e)
    e = raises(lambda: g.infer("nosuchmodel", [grpc_input("INPUT0", x)]))
    check("grpc infer unknown model", e is not None and "nosuchmodel" in str(e), e)
    xi = np.arange(4, dtype=np.int32)
    e = raises(lambda: h.infer("sum", [http_input("INPUT0", xi)]))
    check("http wrong dtype", e is not None and "INT32" in str(e), e)
    e = raises(lambda: g.infer("sum", [grpc_input("INPUT0", xi)]))
    check("grpc wrong dtype", e is not None and "INT32" in str(e), e)
    e = raises(lambda: h.infer("gemm", [http_input("INPUT0", np.zeros((2, 7), np.float32))]))
    check("http wrong shape", e is not None, e)
    e = raises(lambda: g.infer("gemm", [grpc_input("INPUT0", np.zeros((2, 7), np.float32))]))
    check("grpc wrong shape", e is not None, e)
    e = raises(lambda: h.infer("sum", [http_input("INPUT0", x)], model_version="7"))
    check("http unknown version", e is not None, e)
    e = raises(lambda: h.infer("sum", [http_input("WRONG", x)]))
    check("http wrong input name", e is not None and "WRONG" in str(e), e)

    # Queue overflow: 'slow' holds one request 0.2 s with a queue of 2.
    res = [h.async_infer("slow", [http_input("INPUT0", x)]) for _ in range(10)]
    n_ok, n_busy = 0, 0
    for r in res:
        try:
            r.get_result()
            n_ok += 1
        except InferenceServerException as ex:
            if ex.status() in ("503", 503) or "queue" in str(ex).lower():
                n_busy += 1
            else:
                print("  unexpected", ex.status(), ex)
    check("queue overflow answers 503 at once, others served", n_ok >= 1 and n_busy >= 1
          and n_ok + n_busy == 10, (n_ok, n_busy))
    r = h.infer("sum", [http_input("INPUT0", x)])
    check("server still serves after the errors", float(r.as_numpy("OUTPUT0")[0]) == 6.0)


def test_stats_repository(h, g, metrics):
    before = h.get_inference_statistics("sum")["model_stats"][0]
    x = np.ones(8, dtype=np.float32)
    for _ in range(5):
        h.infer("sum", [http_input("INPUT0", x)])
    after = h.get_inference_statistics("sum")["model_stats"][0]
    check("http stats count +5", after["inference_count"] - before["inference_count"] == 5,
          (before["inference_count"], after["inference_count"]))
    st = after["inference_stats"]
    check("http stats fields", all(k in st for k in ("success", "fail", "queue", "compute_input",
                                                       "compute_infer", "compute_output",
                                                       "cache_hit", "cache_miss"))
          and after["version"] == "1" and st["success"]["count"] >= 5, after)
    gs = g.get_inference_statistics("sum", as_json=True)["model_stats"][0]
    check("grpc stats", int(gs["inference_count"]) >= 5, gs)

    idx = h.get_model_repository_index()
    names = {(m["name"], m.get("state")) for m in idx}
    check("http repository index", ("identity", "READY") in names and ("gemm", "READY") in names,
          idx)
    gidx = g.get_model_repository_index(as_json=True)
    check("grpc repository index", any(m["name"] == "sum" for m in gidx.get("models", [])), gidx)

    h.unload_model("sum")
    check("http unload -> not ready", not h.is_model_ready("sum"))
    e = raises(lambda: h.infer("sum", [http_input("INPUT0", x)]))
    check("infer on unloaded model fails", e is not None, e)
    h.load_model("sum")
    check("http load -> ready", h.is_model_ready("sum"))
    g.unload_model("sum")
    check("grpc unload -> not ready", not g.is_model_ready("sum"))
    g.load_model("sum")
    check("grpc load -> ready", g.is_model_ready("sum"))
    r = g.infer("sum", [grpc_input("INPUT0", x)])
    check("infer after reload", float(r.as_numpy("OUTPUT0")[0]) == 8.0)

    text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10).read().decode()
    check("metrics nv_inference_request_success",
          'nv_inference_request_success{model="sum",version="1"}' in text, text[:400])
    check("metrics nv_gpu_utilization with gpu_uuid only",
          any(line.startswith('nv_gpu_utilization{gpu_uuid="') for line in text.splitlines()))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--http", required=True)
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--metrics", required=True)
    a = ap.parse_args()
    h = httpclient.InferenceServerClient(url=a.http, concurrency=16)
    g = grpcclient.InferenceServerClient(url=a.grpc)
    for t in (test_health, test_metadata, test_identity, test_sum_gemm, test_async_stream,
              test_errors):
        try:
            t(h, g)
        except Exception:  # a crash of one group is a failure, the others still run
            FAILED.append(t.__name__)
            traceback.print_exc()
    try:
        test_stats_repository(h, g, a.metrics)
    except Exception:
        FAILED.append("test_stats_repository")
        traceback.print_exc()
    h.close()
    g.close()
    if FAILED:
        print(f"interop: {len(FAILED)} checks FAILED: {', '.join(FAILED)}")
        return 1
    print("interop: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
