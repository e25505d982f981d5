using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Platform.Executor.Protocol;

/// <summary>The parts of an HTTP reply the classifier looks at.</summary>
public sealed record RawCallResponse(
    int StatusCode,
    string? ContentType,
    bool HasSdkHeader,
    string? NoRetryHeader,
    string? RetryAfterHeader,
    ReadOnlyMemory<byte> Body,
    bool BodyTooLarge);

/// <summary>
/// Turns an app's HTTP reply into a <see cref="CallOutcome"/> (protocol.md §10.1). Pure: no I/O, so every
/// malformed reply (bad JSON, wrong content type, proxy pages) is unit-tested here.
/// </summary>
public static class CallResponseParser
{
    private static readonly JsonDocumentOptions s_jsonOptions = new() { MaxDepth = 128 };

    public static CallOutcome Parse(RawCallResponse response)
    {
        if (response.BodyTooLarge)
        {
            return new CallFailed(response.StatusCode,
                ErrorJson.Create("OutputTooLargeError", "The app's reply is larger than the platform's limit for a step output"),
                Final: true, null);
        }

        var retryAfter = ParseRetryAfter(response.RetryAfterHeader);
        var noRetry = string.Equals(response.NoRetryHeader?.Trim(), "true", StringComparison.OrdinalIgnoreCase);

        if (response.StatusCode == 201)
        {
            return ParseStreamed(response);
        }

        if (response.StatusCode is 200 or 206)
        {
            // A 2xx without the SDK's header is not an SDK reply (a proxy or a login page): retry.
            if (!response.HasSdkHeader)
            {
                return Retryable(response.StatusCode, "NotAnSdkReplyError",
                    $"HTTP {response.StatusCode} without the X-Inngest-Sdk header ({Describe(response.ContentType)}): not an SDK reply");
            }

            if (!IsJsonContentType(response.ContentType))
            {
                return Retryable(response.StatusCode, "InvalidReplyError",
                    $"HTTP {response.StatusCode} with content type {Describe(response.ContentType)}; expected application/json");
            }

            if (!TryParseJson(response.Body.Span, out var doc, out var parseError))
            {
                return Retryable(response.StatusCode, "InvalidReplyError", $"HTTP {response.StatusCode} with a body that is not JSON: {parseError}");
            }

            using (doc)
            {
                if (response.StatusCode == 200)
                {
                    var output = doc!.RootElement.GetRawText();
                    return JsonSafety.FindUnstorable(output) is { } bad
                        ? Unstorable(200, $"The function's output contains {bad}")
                        : new FunctionCompleted(output);
                }

                // Only an escape can smuggle in what PostgreSQL refuses (raw control characters are not valid JSON).
                var escapes = response.Body.Span.IndexOf("\\u"u8) >= 0;
                return ParseOps(doc!.RootElement, noRetry, retryAfter, response.StatusCode, escapes);
            }
        }

        // Errors: body is a serialized error when the SDK answered; anything else is wrapped.
        var errorJson = ErrorFromBody(response);
        // Like Go, a reply the SDK flags no-retry is never retried, whatever its status (protocol.md §12).
        var final = noRetry && response.HasSdkHeader;
        return new CallFailed(response.StatusCode, errorJson, final, retryAfter);
    }

    private static CallOutcome ParseOps(JsonElement root, bool noRetry, RetryAfter? retryAfter, int status, bool escapes)
    {
        var ops = new List<Op>();
        if (root.ValueKind == JsonValueKind.Object)
        {
            if (!TryParseOp(root, escapes, out var op, out var error))
            {
                return Retryable(status, "InvalidReplyError", error);
            }

            ops.Add(op);
        }
        else if (root.ValueKind == JsonValueKind.Array)
        {
            foreach (var element in root.EnumerateArray())
            {
                if (!TryParseOp(element, escapes, out var op, out var error))
                {
                    return Retryable(status, "InvalidReplyError", error);
                }

                ops.Add(op);
            }
        }
        else
        {
            return Retryable(status, "InvalidReplyError", $"HTTP 206 with a JSON {root.ValueKind}; expected an array of ops");
        }

        if (ops.FirstOrDefault(o => o.Name == OpNames.RunComplete && o.DataJson is not null && JsonSafety.FindUnstorable(o.DataJson) is not null) is { } complete)
        {
            return Unstorable(status, $"The function's output contains {JsonSafety.FindUnstorable(complete.DataJson!)}");
        }

        return new OpsReturned(ops, noRetry, retryAfter);
    }

    private static bool TryParseOp(JsonElement e, bool escapes, out Op op, out string error)
    {
        op = null!;
        if (e.ValueKind != JsonValueKind.Object)
        {
            error = $"an op is a JSON {e.ValueKind}; expected an object";
            return false;
        }

        // Ids, names and options end up in text and jsonb columns: a NUL or an unpaired surrogate there would make
        // the commit fail (and the run hang until the sweeper gives up), so such a reply is rejected as a whole.
        if (escapes)
        {
            foreach (var property in e.EnumerateObject())
            {
                if (property.Name is not ("data" or "error") && JsonSafety.FindUnstorable(property.Value) is { } unstorable)
                {
                    error = $"an op's \"{property.Name}\" contains {unstorable}";
                    return false;
                }
            }
        }

        var opName = GetString(e, "op");
        if (string.IsNullOrEmpty(opName))
        {
            error = "an op has no \"op\" field";
            return false;
        }

        var id = GetString(e, "id");
        if (string.IsNullOrEmpty(id) && opName is not (OpNames.RunComplete or OpNames.DiscoveryRequest))
        {
            error = $"a {opName} op has no \"id\"";
            return false;
        }

        if (id is { Length: > 128 })
        {
            error = "an op id is longer than 128 characters";
            return false;
        }

        JsonElement? opts = e.TryGetProperty("opts", out var o) && o.ValueKind == JsonValueKind.Object ? o.Clone() : null;
        var data = e.TryGetProperty("data", out var d) ? d.GetRawText() : null;
        var err = e.TryGetProperty("error", out var x) && x.ValueKind != JsonValueKind.Null ? x.GetRawText() : null;
        if (err is not null && JsonSafety.FindUnstorable(err) is { } badError)
        {
            // The step's error is stored (attempt history, memo): keep what can be told about it.
            err = ErrorJson.Create("Error", $"The step failed with an error the platform cannot store: it contains {badError}");
        }

        if (opName is OpNames.StepError or OpNames.StepFailed && data is not null && JsonSafety.FindUnstorable(data) is not null)
        {
            // Only ever used as the error when "error" is missing.
            data = null;
        }

        op = new Op(id ?? "", opName, GetString(e, "name"), GetString(e, "displayName"), opts, data, err);
        error = "";
        return true;
    }

    private static CallOutcome ParseStreamed(RawCallResponse response)
    {
        // Streaming (protocol.md §17.3): 201, keep-alive spaces, then {"status","headers","body":"<string>"}.
        if (!TryParseJson(response.Body.Span, out var doc, out var parseError))
        {
            return Retryable(201, "InvalidReplyError", $"streamed reply is not JSON: {parseError}");
        }

        using (doc)
        {
            var root = doc!.RootElement;
            if (JsonSafety.FindUnstorable(root) is { } bad)
            {
                // An unpaired surrogate cannot even be read as a string; a NUL is never valid in the inner JSON.
                return Retryable(201, "InvalidReplyError", $"streamed reply contains {bad}");
            }

            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("status", out var st) || st.ValueKind != JsonValueKind.Number || !st.TryGetInt32(out var status)
                || !root.TryGetProperty("body", out var b) || b.ValueKind != JsonValueKind.String)
            {
                return Retryable(201, "InvalidReplyError", "streamed reply is not a {status, headers, body} envelope");
            }

            string? header(string name)
            {
                if (root.TryGetProperty("headers", out var h) && h.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in h.EnumerateObject())
                    {
                        if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase) && p.Value.ValueKind == JsonValueKind.String)
                        {
                            return p.Value.GetString();
                        }
                    }
                }

                return null;
            }

            var inner = new RawCallResponse(status, header("Content-Type") ?? "application/json", true,
                header("X-Inngest-No-Retry"), header("Retry-After"), Encoding.UTF8.GetBytes(b.GetString() ?? ""), false);
            return status == 201 ? Retryable(201, "InvalidReplyError", "nested streamed envelope") : Parse(inner);
        }
    }

    private static string ErrorFromBody(RawCallResponse response)
    {
        var status = response.StatusCode;
        if (response.HasSdkHeader && TryParseJson(response.Body.Span, out var doc, out _))
        {
            using (doc)
            {
                if (doc!.RootElement.ValueKind == JsonValueKind.Object)
                {
                    var error = doc.RootElement.GetRawText();
                    return JsonSafety.FindUnstorable(error) is { } bad
                        ? ErrorJson.Create("HttpError", $"HTTP {status} from the app with an error the platform cannot store: it contains {bad}")
                        : error;
                }
            }
        }

        // PostgreSQL cannot store NUL, even escaped in jsonb.
        var text = Encoding.UTF8.GetString(response.Body.Span[..Math.Min(response.Body.Length, 512)]).Replace('\0', '\uFFFD');
        var origin = response.HasSdkHeader ? "the app" : "something that is not the SDK (no X-Inngest-Sdk header)";
        return ErrorJson.Create("HttpError", $"HTTP {status} from {origin}: {text}");
    }

    private static CallFailed Retryable(int? status, string name, string message) =>
        new(status, ErrorJson.Create(name, message), Final: false, null);

    private static CallFailed Unstorable(int status, string message) =>
        new(status, ErrorJson.Create("UnstorableOutputError", message), Final: true, null);

    public static RetryAfter? ParseRetryAfter(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        if (value.Length <= 7 && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return new RetryAfter(TimeSpan.FromSeconds(seconds), null);
        }

        // A date is at least "yyyy-MM-dd"; shorter text such as "12.31" would otherwise parse as 31 December.
        if (value.Length >= 10 && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return new RetryAfter(null, at);
        }

        return null;
    }

    private static bool IsJsonContentType(string? contentType) =>
        contentType is not null && contentType.Contains("json", StringComparison.OrdinalIgnoreCase);

    private static string Describe(string? contentType) => contentType is null ? "no content type" : $"'{contentType}'";

    private static bool TryParseJson(ReadOnlySpan<byte> body, out JsonDocument? doc, out string error)
    {
        doc = null;
        error = "";
        var trimmed = TrimWhitespace(body);
        if (trimmed.IsEmpty)
        {
            error = "empty body";
            return false;
        }

        // JsonDocument accepts invalid UTF-8 inside strings and throws only when the text is read.
        if (!System.Text.Unicode.Utf8.IsValid(trimmed))
        {
            error = "the body is not valid UTF-8";
            return false;
        }

        try
        {
            doc = JsonDocument.Parse(trimmed.ToArray(), s_jsonOptions);
            return true;
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    private static ReadOnlySpan<byte> TrimWhitespace(ReadOnlySpan<byte> s)
    {
        var start = 0;
        while (start < s.Length && s[start] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            start++;
        }

        var end = s.Length;
        while (end > start && s[end - 1] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            end--;
        }

        return s[start..end];
    }

    private static string? GetString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
