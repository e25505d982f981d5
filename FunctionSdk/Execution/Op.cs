using System.Text.Json;
using System.Text.Json.Nodes;

namespace FunctionSdk.Execution;

/// <summary>One element of a 206 reply (protocol.md §10.2).</summary>
internal sealed record Op
{
    public const string StepRun = "StepRun";
    public const string StepPlanned = "StepPlanned";
    public const string StepError = "StepError";
    public const string StepFailed = "StepFailed";
    public const string Sleep = "Sleep";
    public const string WaitForEvent = "WaitForEvent";
    public const string InvokeFunction = "InvokeFunction";

    public required string Id { get; init; }

    public required string Code { get; init; }

    public string? Name { get; init; }

    public required string DisplayName { get; init; }

    public JsonObject Opts { get; init; } = [];

    public required string UserlandId { get; init; }

    public int? UserlandIndex { get; init; }

    public JsonNode? Data { get; init; }

    public JsonObject? Error { get; init; }

    /// <summary>Start (unix ns) and duration (ns) of a step that ran; null for a reported step.</summary>
    public (long Start, long Duration)? Timing { get; init; }

    /// <summary>Writes the op with the JS SDK's field order (a ran step and a reported step differ).</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        if (Timing is null)
        {
            writer.WriteString("displayName", DisplayName);
            writer.WriteString("op", Code);
            writer.WriteString("id", Id);
            if (Name is not null)
            {
                writer.WriteString("name", Name);
            }

            WriteNode(writer, "opts", Opts);
            WriteUserland(writer);
            writer.WriteNull("data");
        }
        else
        {
            writer.WriteString("id", Id);
            writer.WriteString("op", Code);
            if (Name is not null)
            {
                writer.WriteString("name", Name);
            }

            WriteNode(writer, "opts", Opts);
            writer.WriteString("displayName", DisplayName);
            WriteUserland(writer);
            if (Error is not null)
            {
                WriteNode(writer, "error", Error);
                WriteTiming(writer);
                WriteNode(writer, "data", Data);
            }
            else
            {
                WriteNode(writer, "data", Data);
                WriteTiming(writer);
            }
        }

        writer.WriteEndObject();
    }

    private void WriteUserland(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("userland");
        writer.WriteString("id", UserlandId);
        if (UserlandIndex is { } index)
        {
            writer.WriteNumber("index", index);
        }

        writer.WriteEndObject();
    }

    private void WriteTiming(Utf8JsonWriter writer)
    {
        var (start, duration) = Timing!.Value;
        writer.WriteStartObject("timing");
        writer.WriteNumber("a", start);
        writer.WriteNumber("b", duration);
        writer.WriteEndObject();
    }

    private static void WriteNode(Utf8JsonWriter writer, string name, JsonNode? node)
    {
        writer.WritePropertyName(name);
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
    }
}
