"""What more than one test module needs: fakes of the stores and channels, the test PKI, AWS fixtures' types.

Nothing here ships in the Lambda bundle; the local stack (lab/) and the benchmarks (bench/) may use it.
"""
