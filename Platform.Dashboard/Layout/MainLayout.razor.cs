using Microsoft.AspNetCore.Components;

namespace Platform.Dashboard.Layout;

public partial class MainLayout
{
    /// <summary>The left navigation: one entry per area, in the platform's vocabulary.</summary>
    public static readonly IReadOnlyList<NavSection> Sections =
    [
        new("Runs", "runs", ["", "runs"]),
        new("Events", "events", ["events"]),
        new("Apps", "apps", ["apps"]),
    ];

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    private bool IsActive(NavSection section) => section.Matches(Navigation.ToBaseRelativePath(Navigation.Uri));
}

/// <summary>An entry of the left navigation; active when the first path segment is one of <see cref="Segments"/>.</summary>
public sealed record NavSection(string Label, string Href, IReadOnlyList<string> Segments)
{
    /// <param name="relativePath">The path relative to the dashboard's base, e.g. <c>runs/01J…?status=Failed</c>.</param>
    public bool Matches(string relativePath)
    {
        var path = relativePath.Split('?', '#')[0];
        var first = path.Split('/')[0];
        return Segments.Contains(first, StringComparer.OrdinalIgnoreCase);
    }
}
