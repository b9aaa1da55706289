namespace LayoutGuidance.Evaluation;

/// <summary>
/// Scores generated images against their layouts from the detector's output: whether each requested
/// object is there (VISOR-style object accuracy), whether its colour at least is there, how well its
/// box matches the target (IoU, IoU ≥ 0.5, centre in the target), whether every pair keeps the spatial
/// relation of its targets, and which detected objects nobody asked for.
/// </summary>
public static class LayoutMetrics
{
    public const double IouThreshold = 0.5;

    /// <summary>
    /// How <paramref name="first"/> sits relative to <paramref name="second"/>, along the axis where
    /// their centres differ most (horizontal on a tie); null when the centres coincide.
    /// </summary>
    public static SpatialRelation? Relation(Box first, Box second)
    {
        double dx = first.CenterX - second.CenterX, dy = first.CenterY - second.CenterY;
        if (dx == 0 && dy == 0) return null;
        return Math.Abs(dx) >= Math.Abs(dy)
            ? dx < 0 ? SpatialRelation.LeftOf : SpatialRelation.RightOf
            : dy < 0 ? SpatialRelation.Above : SpatialRelation.Below;
    }

    /// <summary>Whether the first box's centre stands in the relation to the second's (strictly).</summary>
    static bool Holds(SpatialRelation relation, Box first, Box second) => relation switch
    {
        SpatialRelation.LeftOf => first.CenterX < second.CenterX,
        SpatialRelation.RightOf => first.CenterX > second.CenterX,
        SpatialRelation.Above => first.CenterY < second.CenterY,
        SpatialRelation.Below => first.CenterY > second.CenterY,
        _ => throw new ArgumentOutOfRangeException(nameof(relation), relation, "unknown relation"),
    };

    /// <summary>
    /// Scores one image. Requested objects are matched one-to-one to detections of the same colour and
    /// shape, greedily by IoU with the target (a duplicate object cannot count twice). Pairs are all
    /// pairs of requested objects whose target centres differ.
    /// </summary>
    public static ImageScore Score(IReadOnlyList<RequestedObject> requested, IReadOnlyList<Detection> detections)
    {
        var candidates =
            from r in Enumerable.Range(0, requested.Count)
            from d in Enumerable.Range(0, detections.Count)
            where detections[d].Color == requested[r].Color && detections[d].Shape == requested[r].Shape
            orderby detections[d].Box.Iou(requested[r].Target) descending, r, d
            select (r, d);
        var matches = new Detection?[requested.Count];
        var used = new bool[detections.Count];
        foreach (var (r, d) in candidates)
        {
            if (matches[r] is not null || used[d]) continue;
            matches[r] = detections[d];
            used[d] = true;
        }

        var objects = requested
            .Select((r, i) => new ObjectScore(r, matches[i],
                ColorFound: detections.Any(d => d.Color == r.Color),
                ColorCentered: detections.Any(d => d.Color == r.Color && r.Target.Contains(d.Box.CenterX, d.Box.CenterY))))
            .ToArray();

        var pairs = new List<PairScore>();
        for (var a = 0; a < requested.Count; a++)
        for (var b = a + 1; b < requested.Count; b++)
        {
            if (Relation(requested[a].Target, requested[b].Target) is not { } relation) continue;
            var bothFound = matches[a] is not null && matches[b] is not null;
            pairs.Add(new PairScore(a, b, relation, bothFound, bothFound && Holds(relation, matches[a]!.Box, matches[b]!.Box)));
        }

        var unrequested = detections
            .Where(d => requested.All(r => r.Color != d.Color) || requested.All(r => r.Shape != d.Shape))
            .ToArray();
        return new ImageScore(objects, pairs, unrequested);
    }

    public static LayoutSummary Summarize(IEnumerable<ImageScore> images)
    {
        var list = images.ToList();
        var objects = list.SelectMany(i => i.Objects).ToList();
        var pairs = list.SelectMany(i => i.Pairs).ToList();
        return new LayoutSummary(
            Images: list.Count,
            Objects: objects.Count,
            Found: objects.Count(o => o.Found),
            ColorFound: objects.Count(o => o.ColorFound),
            IouSuccesses: objects.Count(o => o.IouSuccess),
            CenterSuccesses: objects.Count(o => o.CenterInBox),
            ColorCenterSuccesses: objects.Count(o => o.ColorCentered),
            MeanIou: objects.Count == 0 ? double.NaN : objects.Average(o => o.Iou),
            ImagesAllFound: list.Count(i => i.AllFound),
            Pairs: pairs.Count,
            PairsBothFound: pairs.Count(p => p.BothFound),
            PairsCorrect: pairs.Count(p => p.Correct),
            ImagesWithUnrequested: list.Count(i => i.Unrequested.Count > 0),
            UnrequestedDetections: list.Sum(i => i.Unrequested.Count));
    }
}
