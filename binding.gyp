{
  "targets": [
    {
      "target_name": "podspan",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/frame_filter.cc",
        "native/core/frame_filter.cc",
        "native/core/capture_session.cc",
        "native/core/bpf_chain.cc",
        "native/core/decode.cc",
        "native/core/defrag.cc",
        "native/core/reassembly.cc",
        "native/core/stream_files.cc",
        "native/core/async_files.cc",
        "native/core/encap_header.cc",
        "native/core/encap_sender.cc",
        "native/core/columnar.cc",
        "native/core/vxlan_receiver.cc",
        "native/core/stream_events.cc",
        "native/core/tcp_pipeline.cc",
        "native/core/devices.cc",
        "native/core/errors.cc",
        "native/core/file_reader.cc",
        "native/core/file_writer.cc",
        "native/core/frame_batch.cc",
        "native/core/packet.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/core"
      ],
      "libraries": ["-lpcap", "-lpthread"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines+": ["NAPI_CPP_EXCEPTIONS"]
    }
  ]
}
