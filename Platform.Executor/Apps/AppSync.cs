using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Web;
using Npgsql;
using Platform.Executor.Events;
using Platform.Executor.Storage;

namespace Platform.Executor.Apps;

/// <summary>The outcome of a register call: <c>{"ok":true,"modified":…}</c> or a 4xx with the reason.</summary>
public sealed record SyncResult(int Status, bool Modified, string? Error, Guid? AppId);

/// <summary>
/// <c>POST /fn/register</c> (protocol.md §6): validate the app's config, upsert the app by its id, replace its
/// function set (functions no longer listed are archived, their runs stay readable), all in one transaction.
/// </summary>
public sealed class AppSync(PlatformDatabase database, FunctionRegistry registry, Expressions expressions, Security.AppNetworkPolicy networkPolicy)
{
    public const int MaxFunctions = 1000;
    private static readonly JsonDocumentOptions s_json = new() { MaxDepth = 64 };

    private sealed record FunctionConfig(string Slug, string Name, string Url, int Retries, string Triggers, string Config);

    public async Task<SyncResult> RegisterAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            return Invalid("The body is not valid JSON: it is not valid UTF-8");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, s_json);
        }
        catch (JsonException ex)
        {
            return Invalid($"The body is not valid JSON: {ex.Message}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Invalid("Expected a JSON object");
            }

            if (Protocol.JsonSafety.FindUnstorable(root) is { } bad)
            {
                return Invalid($"The config contains {bad}");
            }

            var appName = Str(root, "appName");
            if (string.IsNullOrWhiteSpace(appName) || appName.Length > 256)
            {
                return Invalid("appName: required, a non-empty string of at most 256 characters");
            }

            var appUrl = Str(root, "url");
            if (!TryCleanUrl(appUrl, out var cleanAppUrl, out var urlError))
            {
                return Invalid($"url: {urlError}");
            }

            if (!root.TryGetProperty("functions", out var fns) || fns.ValueKind != JsonValueKind.Array)
            {
                return Invalid("functions: required, an array");
            }

            if (fns.GetArrayLength() > MaxFunctions)
            {
                return Invalid($"functions: at most {MaxFunctions} per app");
            }

            var configs = new List<FunctionConfig>();
            var index = 0;
            foreach (var fn in fns.EnumerateArray())
            {
                var (config, error) = ParseFunction(fn, $"functions[{index}]", cleanAppUrl);
                if (config is null)
                {
                    return Invalid(error!);
                }

                if (configs.Any(c => c.Slug == config.Slug))
                {
                    return Invalid($"functions[{index}].id: '{config.Slug}' appears twice");
                }

                configs.Add(config);
                index++;
            }

            // SSRF guard (production mode): every host the platform will call must resolve to allowed addresses
            // (one resolution per host, however many functions share it).
            foreach (var (field, url) in configs.Select(c => ("functions", c.Url)).Prepend(("url", cleanAppUrl)).DistinctBy(u => new Uri(u.Item2).Authority))
            {
                if (await networkPolicy.CheckAsync(url, cancellationToken) is { } blocked)
                {
                    return Invalid($"{field}: {url}: {blocked}");
                }
            }

            var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(cleanAppUrl + "\n" + fns.GetRawText())));
            var result = await database.RetryAsync(
                ct => StoreAsync(appName, cleanAppUrl, Str(root, "sdk"), Str(root, "framework"), Str(root, "appVersion"), checksum, configs, ct),
                cancellationToken);
            registry.Invalidate();
            return result;
        }
    }

    private (FunctionConfig? Config, string? Error) ParseFunction(JsonElement fn, string path, string appUrl)
    {
        if (fn.ValueKind != JsonValueKind.Object)
        {
            return (null, $"{path}: expected an object");
        }

        var slug = Str(fn, "id");
        if (string.IsNullOrWhiteSpace(slug) || slug.Length > 256)
        {
            return (null, $"{path}.id: required, a non-empty string of at most 256 characters");
        }

        var name = Str(fn, "name") ?? slug;
        if (!fn.TryGetProperty("triggers", out var triggers) || triggers.ValueKind != JsonValueKind.Array || triggers.GetArrayLength() == 0)
        {
            return (null, $"{path}.triggers: required, a non-empty array");
        }

        if (triggers.GetArrayLength() > 10)
        {
            return (null, $"{path}.triggers: at most 10");
        }

        var t = 0;
        foreach (var trigger in triggers.EnumerateArray())
        {
            var tp = $"{path}.triggers[{t++}]";
            if (trigger.ValueKind != JsonValueKind.Object)
            {
                return (null, $"{tp}: expected an object");
            }

            var ev = Str(trigger, "event");
            var cron = Str(trigger, "cron");
            if (string.IsNullOrWhiteSpace(ev) == string.IsNullOrWhiteSpace(cron))
            {
                return (null, $"{tp}: expected exactly one of 'event' or 'cron'");
            }

            if (Str(trigger, "expression") is { Length: > 0 } expression && expressions.Validate(expression) is { } celError)
            {
                return (null, $"{tp}.expression: not a valid CEL expression: {celError}");
            }

            if (!string.IsNullOrWhiteSpace(cron) && !Scheduling.CronSchedule.TryParse(cron, out _, out var cronError))
            {
                return (null, $"{tp}.cron: {cronError}");
            }
        }

        if (fn.TryGetProperty("cancel", out var cancel) && cancel.ValueKind != JsonValueKind.Null)
        {
            if (cancel.ValueKind != JsonValueKind.Array || cancel.GetArrayLength() > 10)
            {
                return (null, $"{path}.cancel: expected an array of at most 10 entries");
            }

            var c = 0;
            foreach (var entry in cancel.EnumerateArray())
            {
                var cp = $"{path}.cancel[{c++}]";
                if (entry.ValueKind != JsonValueKind.Object || string.IsNullOrWhiteSpace(Str(entry, "event")))
                {
                    return (null, $"{cp}: expected an object with a non-empty 'event'");
                }

                if (Str(entry, "if") is { Length: > 0 } condition && expressions.Validate(condition) is { } celError)
                {
                    return (null, $"{cp}.if: not a valid CEL expression: {celError}");
                }

                if (Str(entry, "timeout") is { Length: > 0 } timeout && !Protocol.TimeStrings.TryParseDuration(timeout, out _))
                {
                    return (null, $"{cp}.timeout: '{timeout}' is not a duration such as 30s or 1h");
                }
            }
        }

        if (fn.TryGetProperty("timeouts", out var timeouts) && timeouts.ValueKind == JsonValueKind.Object)
        {
            foreach (var limit in new[] { "start", "finish" })
            {
                if (Str(timeouts, limit) is { Length: > 0 } timeout && !Protocol.TimeStrings.TryParseDuration(timeout, out _))
                {
                    return (null, $"{path}.timeouts.{limit}: '{timeout}' is not a duration such as 30s or 1h");
                }
            }
        }

        if (Str(fn, "idempotency") is { Length: > 0 } key && expressions.Validate(key) is { } keyError)
        {
            return (null, $"{path}.idempotency: not a valid CEL expression: {keyError}");
        }

        var url = appUrl;
        var retries = Runs.RunPolicy.DefaultRetries;
        if (fn.TryGetProperty("steps", out var steps) && steps.ValueKind == JsonValueKind.Object)
        {
            foreach (var step in steps.EnumerateObject())
            {
                if (step.Value.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                if (step.Value.TryGetProperty("runtime", out var runtime) && runtime.ValueKind == JsonValueKind.Object && Str(runtime, "url") is { } stepUrl)
                {
                    if (!TryCleanUrl(stepUrl, out url, out var urlError))
                    {
                        return (null, $"{path}.steps.{step.Name}.runtime.url: {urlError}");
                    }
                }

                if (step.Value.TryGetProperty("retries", out var r) && r.ValueKind == JsonValueKind.Object && r.TryGetProperty("attempts", out var a))
                {
                    if (a.ValueKind != JsonValueKind.Number || !a.TryGetInt32(out retries) || retries is < 0 or > 20)
                    {
                        return (null, $"{path}.steps.{step.Name}.retries.attempts: expected an integer from 0 to 20");
                    }
                }

                break;
            }
        }

        return (new FunctionConfig(slug, name, url, retries, triggers.GetRawText(), fn.GetRawText()), null);
    }

    private async Task<SyncResult> StoreAsync(
        string appName, string url, string? sdk, string? framework, string? appVersion, string checksum,
        List<FunctionConfig> configs, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        Guid appId;
        bool modified;
        await using (var upsert = new NpgsqlCommand("""
            WITH previous AS (SELECT checksum FROM platform.apps WHERE name = @name FOR UPDATE)
            INSERT INTO platform.apps (id, name, url, sdk, framework, app_version, checksum, created_at, synced_at)
            VALUES (gen_random_uuid(), @name, @url, @sdk, @framework, @version, @checksum, now(), now())
            ON CONFLICT (name) DO UPDATE SET url = excluded.url, sdk = excluded.sdk, framework = excluded.framework,
                app_version = excluded.app_version, checksum = excluded.checksum, synced_at = now()
            RETURNING id, coalesce((SELECT checksum FROM previous), '') <> @checksum
            """, connection, tx))
        {
            upsert.Parameters.AddWithValue("name", appName);
            upsert.Parameters.AddWithValue("url", url);
            upsert.Parameters.AddWithValue("sdk", (object?)sdk ?? DBNull.Value);
            upsert.Parameters.AddWithValue("framework", (object?)framework ?? DBNull.Value);
            upsert.Parameters.AddWithValue("version", (object?)appVersion ?? DBNull.Value);
            upsert.Parameters.AddWithValue("checksum", checksum);
            await using var reader = await upsert.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            appId = reader.GetGuid(0);
            modified = reader.GetBoolean(1);
        }

        await using (var owned = new NpgsqlCommand("SELECT slug FROM platform.functions WHERE slug = ANY(@slugs) AND app_id <> @app", connection, tx))
        {
            owned.Parameters.AddWithValue("slugs", configs.Select(c => c.Slug).ToArray());
            owned.Parameters.AddWithValue("app", appId);
            if (await owned.ExecuteScalarAsync(cancellationToken) is string taken)
            {
                await tx.RollbackAsync(cancellationToken);
                return new SyncResult(409, false, $"Function '{taken}' belongs to another app", null);
            }
        }

        await using (var fns = new NpgsqlCommand("""
            INSERT INTO platform.functions (id, app_id, slug, name, url, retries, triggers, config, created_at, updated_at, archived_at)
            SELECT gen_random_uuid(), @app, u.slug, u.name, u.url, u.retries, u.triggers::jsonb, u.config::jsonb, now(), now(), NULL
              FROM unnest(@slugs, @names, @urls, @retries, @triggers, @configs) AS u(slug, name, url, retries, triggers, config)
            ON CONFLICT (slug) DO UPDATE SET name = excluded.name, url = excluded.url, retries = excluded.retries,
                triggers = excluded.triggers, config = excluded.config, updated_at = now(), archived_at = NULL
            """, connection, tx))
        {
            fns.Parameters.AddWithValue("app", appId);
            fns.Parameters.AddWithValue("slugs", configs.Select(c => c.Slug).ToArray());
            fns.Parameters.AddWithValue("names", configs.Select(c => c.Name).ToArray());
            fns.Parameters.AddWithValue("urls", configs.Select(c => c.Url).ToArray());
            fns.Parameters.AddWithValue("retries", configs.Select(c => c.Retries).ToArray());
            fns.Parameters.AddWithValue("triggers", configs.Select(c => c.Triggers).ToArray());
            fns.Parameters.AddWithValue("configs", configs.Select(c => c.Config).ToArray());
            await fns.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var archive = new NpgsqlCommand("""
            UPDATE platform.functions SET archived_at = now(), updated_at = now()
             WHERE app_id = @app AND archived_at IS NULL AND NOT (slug = ANY(@slugs))
            """, connection, tx))
        {
            archive.Parameters.AddWithValue("app", appId);
            archive.Parameters.AddWithValue("slugs", configs.Select(c => c.Slug).ToArray());
            modified |= await archive.ExecuteNonQueryAsync(cancellationToken) > 0;
        }

        await tx.CommitAsync(cancellationToken);
        return new SyncResult(200, modified, null, appId);
    }

    /// <summary>An absolute http(s) URL without the <c>deployId</c>, <c>probe</c>, <c>fnId</c> and <c>stepId</c> parameters.</summary>
    public static bool TryCleanUrl(string? url, out string clean, out string error)
    {
        clean = "";
        // On Unix, Uri reads "/api/inngest" as an absolute file path: without a written scheme it is relative.
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
            || (uri.IsFile && !url.TrimStart().StartsWith("file:", StringComparison.OrdinalIgnoreCase)))
        {
            error = "required, an absolute URL";
            return false;
        }

        if (uri.Scheme is not ("http" or "https"))
        {
            error = $"scheme '{uri.Scheme}' is not allowed; use http or https";
            return false;
        }

        if (string.IsNullOrEmpty(uri.Host))
        {
            error = "the URL has no host";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            error = "credentials in the URL are not allowed";
            return false;
        }

        var builder = new UriBuilder(uri);
        var query = HttpUtility.ParseQueryString(builder.Query);
        foreach (var key in new[] { "deployId", "probe", "fnId", "stepId" })
        {
            query.Remove(key);
        }

        builder.Query = query.Count == 0 ? "" : query.ToString();
        clean = builder.Uri.ToString();
        error = "";
        return true;
    }

    private static SyncResult Invalid(string error) => new(400, false, error, null);

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
