namespace LayoutGuidance.Schedulers;

/// <summary>
/// Gauss–Legendre quadrature: n nodes integrate polynomials of degree ≤ 2n − 1 exactly, which is all the
/// LMS coefficients need (their integrands are Lagrange basis polynomials). scipy's adaptive quad, which
/// diffusers calls, returns the same exact value from its first 21-point Gauss–Kronrod panel.
/// </summary>
public static class GaussLegendre
{
    /// <summary>∫_a^b f(x) dx with <paramref name="points"/> nodes.</summary>
    public static double Integrate(Func<double, double> f, double a, double b, int points)
    {
        var (nodes, weights) = Rule(points);
        double half = (b - a) / 2, mid = (a + b) / 2, sum = 0;
        for (var i = 0; i < points; i++) sum += weights[i] * f(half * nodes[i] + mid);
        return half * sum;
    }

    /// <summary>Nodes (roots of P_n) and weights on [−1, 1], by Newton's method on the Legendre recurrence.</summary>
    public static (double[] Nodes, double[] Weights) Rule(int points)
    {
        if (points < 1) throw new ArgumentOutOfRangeException(nameof(points), points, "at least one node");
        var nodes = new double[points];
        var weights = new double[points];
        for (var i = 0; i < points; i++)
        {
            // Tricomi's estimate of the i-th root is close enough for Newton to converge in a few steps.
            var x = Math.Cos(Math.PI * (i + 0.75) / (points + 0.5));
            double derivative = 1;
            for (var iteration = 0; iteration < 100; iteration++)
            {
                double p = 1, previous = 0;
                for (var k = 1; k <= points; k++)
                    (p, previous) = (((2 * k - 1) * x * p - (k - 1) * previous) / k, p);
                derivative = points * (x * p - previous) / (x * x - 1);
                var dx = p / derivative;
                x -= dx;
                if (Math.Abs(dx) < 1e-15) break;
            }
            nodes[i] = x;
            weights[i] = 2 / ((1 - x * x) * derivative * derivative);
        }
        return (nodes, weights);
    }
}
