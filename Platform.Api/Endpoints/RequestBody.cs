using System.Buffers;

namespace Platform.Api.Endpoints;

/// <summary>Reads a request body up to a limit, without buffering more than the limit.</summary>
public static class RequestBody
{
    public static async Task<(ReadOnlyMemory<byte> Body, bool TooLarge)> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return (ReadOnlyMemory<byte>.Empty, true);
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is { } l and > 0 ? (int)Math.Min(l, limit) + 1 : 8192);
        while (true)
        {
            var memory = buffer.GetMemory(16 * 1024);
            var read = await request.Body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return (buffer.WrittenMemory, false);
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return (ReadOnlyMemory<byte>.Empty, true);
            }
        }
    }
}
