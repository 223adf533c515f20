package proxy

import (
	"net/http/httputil"
	"sync"
)

// copyBufferSize is the size of the buffer ReverseProxy copies response
// bodies through: the 32 KiB it allocates itself without a BufferPool.
const copyBufferSize = 32 << 10

// bufferPool is the httputil.BufferPool of every route's ReverseProxy.
// Without one, ReverseProxy allocates (and zeroes) a fresh 32 KiB buffer for
// every response, "ok" bodies included: about nine tenths of the bytes a
// forwarded request allocated, and most of its GC work. The pool holds
// array pointers rather than *[]byte so that Put, which receives a slice,
// can turn it back into the pointer without allocating a header for it.
// A reused buffer cannot leak one response into another: ReverseProxy
// writes only the bytes it has just read into it.
type bufferPool struct{ p sync.Pool }

// copyBuffers is shared by all Handlers: buffers are plain memory, and a
// reload keeps the ones already warm.
var copyBuffers = &bufferPool{p: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}

// Get returns a copyBufferSize buffer.
func (b *bufferPool) Get() []byte { return b.p.Get().(*[copyBufferSize]byte)[:] }

// Put returns a buffer that Get handed out; anything else is dropped.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == copyBufferSize {
		b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
	}
}

var _ httputil.BufferPool = (*bufferPool)(nil)
