{
  "targets": [
    {
      "target_name": "bindsnoop",
      "sources": ["addon.cc", "args.cc", "errors.cc", "kernel.cc", "lock.cc", "maps.cc", "pipe.cc", "program.cc", "reader.cc", "tracer.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../bpf",
        "../bpf/.output"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf"]
    }
  ]
}
