// A capture batch's frame bytes lent to JavaScript as they are, so that the agent's message is
// sent from where the capture put the frames instead of a copy of them: an external Buffer over
// the batch's storage. JavaScript hands it back with releaseFrames() once HTTP/2 wrote it out:
// the Buffer is detached (any later access sees no bytes) and its storage returns to the
// capture's BatchStoragePool, from which it fills its next batches. A Buffer never handed back returns when the
// garbage collector takes it.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "common/packet.h"

namespace podspan_addon {

// An external Buffer of the first `used` bytes of `data`, which it owns until released.
Napi::Buffer<uint8_t> lend_frames(Napi::Env env, std::vector<uint8_t>&& data, size_t used, const std::shared_ptr<podspan::BatchStoragePool>& pool);

// releaseFrames(buffer): a Buffer lend_frames made is detached and its storage goes back to its
// pool; anything else is a TypeError (detaching Node's own memory would break other Buffers).
Napi::Value ReleaseFrames(const Napi::CallbackInfo& info);

}  // namespace podspan_addon
